"""The solver: its settings (a Recipe, the paper's SGD with a stepped learning rate, scaled
down) and its update (MomentumSGD)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum and a stepped learning rate, the paper's solver scaled down."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    lr_steps: tuple[float, ...]  # fractions of all iterations at which lr *= lr_gamma
    lr_gamma: float
    warmup: float  # fraction of all iterations with a linear ramp from 0 to lr
    clip_grad_norm: float | None
    augment_flip: bool = False
    # "bf16": forward and loss under bfloat16 autocast (weights, gradients and the
    # solver stay fp32); several times the fp32 rate on CPUs with AMX or AVX512-BF16.
    precision: str = "fp32"

    @classmethod
    def from_config(cls, cfg: dict) -> Recipe:
        return cls(
            epochs=cfg["epochs"],
            batch_size=cfg["batch_size"],
            lr=cfg["lr"],
            momentum=cfg["momentum"],
            weight_decay=cfg["weight_decay"],
            lr_steps=tuple(cfg["lr_steps"]),
            lr_gamma=cfg["lr_gamma"],
            warmup=cfg["warmup"],
            clip_grad_norm=cfg.get("clip_grad_norm"),
            augment_flip=cfg.get("augment_flip", False),
            precision=cfg.get("precision", "fp32"),
        )

    def lr_at(self, step: int, total: int) -> float:
        warm = self.warmup * total
        scale = min(1.0, (step + 1) / warm) if warm >= 1 else 1.0
        drops = sum(step >= f * total for f in self.lr_steps)
        return self.lr * scale * self.lr_gamma**drops


class MomentumSGD:
    """SGD with momentum and L2 weight decay, the update of torch.optim.SGD (dampening 0),
    after gradient-norm clipping as torch.nn.utils.clip_grad_norm_ does it.

    Written out because constructing torch.optim.SGD imports torch._dynamo, about 1.2 s
    of every job's start-up for a solver that is a few foreach calls per step; and on a
    frozen cell's small top, clip_grad_norm_'s Python wrapping costs as much as the step.
    """

    def __init__(
        self,
        params: list[torch.Tensor],
        momentum: float,
        weight_decay: float,
        clip_grad_norm: float | None = None,
    ):
        self.params, self.momentum, self.weight_decay = params, momentum, weight_decay
        self.clip_grad_norm = clip_grad_norm
        self.buffers: list[torch.Tensor] | None = None

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        grads = [p.grad for p in self.params]
        if self.clip_grad_norm:
            # clip_grad_norm_'s arithmetic, op for op, so the numbers are its numbers.
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            scale = torch.clamp(self.clip_grad_norm / (norm + 1e-6), max=1.0)
            torch._foreach_mul_(grads, scale)
        if self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        if self.buffers is None:
            self.buffers = [g.clone() for g in grads]
        else:
            torch._foreach_mul_(self.buffers, self.momentum)
            torch._foreach_add_(self.buffers, grads)
        torch._foreach_add_(self.params, self.buffers, alpha=-lr)
