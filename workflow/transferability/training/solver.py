"""Training a base net or a transfer cell, as plain functions over whole-dataset tensors.

Data lives in memory as one tensor per part (train/val/test); a step indexes a
batch out of it. Frozen leading layers are run once over the whole dataset and
their output cached (see models.deterministic_depth), so a frozen cell with large
n trains only its top.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
import zlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data.fashion_mnist import load_cache
from ..data.splits import validate_split
from ..errors import DataError
from . import device as devices
from . import models
from .loss_watch import LossWatch
from .resume_state import ResumeState

# Images per forward pass outside training steps (frozen prefix, evaluation): no slower
# than 1,000 on 28-px images, and a chunk of 227-px images stays at hundreds of MB of
# activations, not GBs.
EVAL_BATCH = 256
# More dead units than this leaving a frozen prefix means its signal is mostly gone:
# a property of the init scale, not of transfer, so the log says so.
DEAD_WARNING = 0.5


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


@dataclass
class Outcome:
    top1: float
    val_top1: float
    best_epoch: int
    epochs_run: int
    diverged: bool
    final_loss: float
    train_seconds: float
    history: list[dict] = field(default_factory=list)
    device: str = "cpu"
    resumed_from_epoch: int = 0  # epochs done before this process started (0: fresh)


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


def derived_seed(*parts) -> int:
    """A stable 31-bit seed from a cell's name (Python's hash() is salted per process)."""
    return zlib.crc32("/".join(map(str, parts)).encode()) & 0x7FFFFFFF


def check_indices(cache_path, cache: dict, half: dict, record=None, split_path=None, split=None):
    """A split file made from other data or edited by hand must fail here, naming the file
    and the fix, not in an IndexError. With the whole split record, every check of
    splits.validate_split; with one half alone (the benchmarks), its index ranges."""
    if record is not None:
        validate_split(record, cache, split_path, split=split, cache_path=cache_path)
        return
    limits = {"class_indices": len(cache["classes"]), "train_idx": len(cache["train_y"])}
    limits |= {"val_idx": len(cache["train_y"]), "test_idx": len(cache["test_y"])}
    for key, limit in limits.items():
        bad = [i for i in half[key] if not 0 <= i < limit]
        if bad:
            raise DataError(
                f"{cache_path}: the split file's {key} {bad[:3]} are out of range (< {limit}); "
                "it was made from other data — delete it so make_split writes it again"
            )


def load_half(
    cache_path, half: dict, *, record=None, split_path=None, split=None
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Train/val/test images of one half (its split-file record), normalised; labels 0..k-1.
    Give the whole split `record` (read from `split_path`, for the job's `split`) to have
    the split file checked against the data before anything trains."""
    cache = load_cache(cache_path)
    check_indices(cache_path, cache, half, record, split_path, split)
    relabel = torch.full((len(cache["classes"]),), -1, dtype=torch.int64)
    relabel[torch.tensor(half["class_indices"])] = torch.arange(len(half["class_indices"]))
    if cache.get("kind") == "imagefolder":  # too big for memory: streamed from disk
        from ..data.imagefolder import load_half as stream_half

        return stream_half(cache, half, relabel, workers=torch.get_num_threads())
    if cache.get("kind") == "stored":  # decoded once: rows of a memory-mapped file
        from ..data.store_loader import load_half as stored_half

        return stored_half(cache_path, cache, half, relabel)
    # A scalar (grey) or per-channel (colour) normalisation.
    mean = torch.tensor(cache["mean"]).view(-1, 1, 1)
    std = torch.tensor(cache["std"]).view(-1, 1, 1)
    parts = {}
    for part, source in (("train", "train"), ("val", "train"), ("test", "test")):
        idx = torch.tensor(half[f"{part}_idx"], dtype=torch.int64)
        x = cache[f"{source}_x"][idx]
        x = (x.unsqueeze(1) if x.dim() == 3 else x).float().div_(255).sub_(mean).div_(std)
        parts[part] = (
            x.contiguous(memory_format=torch.channels_last),
            relabel[cache[f"{source}_y"][idx]],
        )
    return parts


@torch.no_grad()
def _run(net: models.TransferNet, x: torch.Tensor, start: int = 0, stop: int | None = None):
    """Eval-mode forward of stages [start, stop), without the last stage's dropout."""
    stop = models.NUM_LAYERS if stop is None else stop
    out = []
    for chunk in x.split(EVAL_BATCH):
        for stage in net.stages[start:stop]:
            chunk = stage.deterministic(chunk)
        out.append(chunk)
    return torch.cat(out)


@torch.no_grad()
def top1(net: models.TransferNet, x: torch.Tensor, y: torch.Tensor, start: int = 0) -> float:
    return evaluate(net, x, y, start).top1


@dataclass(frozen=True)
class Evaluation:
    top1: float
    # Share of the images given the most-predicted class: 1.0 means one class for all.
    top_class_share: float
    # Per watched layer (conv1..fc7 by name): fraction of its ReLU units that are zero on
    # every image. A unit dead on every image gets no gradient and never recovers.
    dead: dict[str, float]


@torch.no_grad()
def evaluate(
    net: models.TransferNet, x, y: torch.Tensor, start: int = 0, watch_from: int | None = None
) -> Evaluation:
    """Eval-mode top-1 of the stages from `start` on, in one pass that also measures how
    concentrated the predictions are and, for stages watch_from..fc7, the dead units."""
    net.eval()
    watched = range(max(start, watch_from), models.NUM_LAYERS - 1) if watch_from is not None else ()
    alive: dict[int, torch.Tensor] = {}
    correct, counts = 0, None
    for xb, yb in zip(x.split(EVAL_BATCH), y.split(EVAL_BATCH), strict=True):
        # A streamed batch arrives on the CPU; .to() is a no-op where it already is.
        out = xb.to(yb.device, non_blocking=True)
        done = start
        for i in watched:  # stage by stage up to each watched stage, to see its output
            for stage in net.stages[done : i + 1]:
                out = stage(out)
            done = i + 1
            seen = out.amax(dim=(0, 2, 3) if out.dim() == 4 else 0) > 0
            alive[i] = alive[i] | seen if i in alive else seen
        out = net(out, start=done)
        predicted = out.argmax(1)
        correct += int((predicted == yb).sum())
        batch_counts = torch.bincount(predicted.cpu(), minlength=out.shape[1])
        counts = batch_counts if counts is None else counts + batch_counts
    dead = {models.LAYER_NAMES[i]: 1.0 - float(seen.float().mean()) for i, seen in alive.items()}
    return Evaluation(correct / len(y), float(counts.max()) / len(y), dead)


def dead_fraction(features: torch.Tensor) -> float:
    """Fraction of units (channels for conv maps) that are zero on every image."""
    dims = (0, 2, 3) if features.dim() == 4 else (0,)
    alive = features.amax(dim=dims) > 0
    return 1.0 - float(alive.float().mean())


def _batches(x, order: torch.Tensor, batch_size: int, device: torch.device, epoch: int):
    """(positions, images) per step: indexed from a tensor, or read by a streamed dataset."""
    if isinstance(x, torch.Tensor):
        return ((batch, x[batch]) for batch in order.split(batch_size))
    return (
        (batch, xb.to(device, non_blocking=True))
        for batch, xb in x.batches(order, batch_size, epoch=epoch)
    )


def train(
    net: models.TransferNet,
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
    recipe: Recipe,
    n_frozen: int,
    seed: int,
    log=print,
    resume: ResumeState | None = None,
) -> tuple[Outcome, dict]:
    """Train `net` (first n_frozen stages frozen) and return the outcome and diagnostics.

    Model selection: the epoch with the best validation top-1 (validation images are
    carved from the training images); top-1 is then measured once on the test images.
    With `resume`, the state is saved after every epoch and a saved state is resumed.
    """
    device = devices.pick()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net.to(device)
    data = devices.to_device(data, device)
    devices.configure(device, recipe.precision)
    for x, _ in data.values():  # streamed images: where batches go, what they draw
        if hasattr(x, "prepare"):
            x.prepare(device, seed, recipe.augment_flip)
    models.freeze(net, n_frozen)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = MomentumSGD(params, recipe.momentum, recipe.weight_decay, recipe.clip_grad_norm)
    saved = resume.load() if resume else None
    if saved:
        net.load_state_dict(saved["net"])
        if saved["momentum"] is not None:
            optimizer.buffers = [b.to(device) for b in saved["momentum"]]
        generator.set_state(saved["generator"])
        devices.set_rng_states(saved["rng"], device)
        log(f"resumed from {resume.path}: epoch {saved['epoch']} of {recipe.epochs} was done")
    streamed = not isinstance(data["train"][0], torch.Tensor)
    depth = 0 if recipe.augment_flip or streamed else models.deterministic_depth(n_frozen)
    pending_dropout = depth > 0 and not isinstance(net.stages[depth - 1].dropout, torch.nn.Identity)

    def autocast(convs: bool = True):
        return devices.autocast(device, recipe.precision, convs)

    step_runs_convs = depth < models.FIRST_FC

    with autocast():
        feats = {
            part: (_run(net, x, 0, depth).float() if depth else x, y)
            for part, (x, y) in data.items()
        }
    diagnostics = {"dead_fraction": dead_fraction(feats["train"][0]) if depth else 0.0}
    if diagnostics["dead_fraction"] > DEAD_WARNING:
        log(
            f"warning: {diagnostics['dead_fraction']:.0%} of the units leaving the frozen "
            "layers are zero on every training image"
        )
    if depth >= models.FIRST_FC:  # fc6 takes flat input: flattened once, not every step
        feats = {part: (x.flatten(1), y) for part, (x, y) in feats.items()}

    def forward(x: torch.Tensor) -> torch.Tensor:
        if pending_dropout:
            x = net.stages[depth - 1].dropout(x)
        if depth < n_frozen:  # frozen stages that run every step: no graph, no gradient
            with torch.no_grad():
                for stage in net.stages[depth:n_frozen]:
                    x = stage(x)
            return net(x, start=n_frozen)
        return net(x, start=depth)

    x_train, y_train = feats["train"]
    steps_per_epoch = math.ceil(len(y_train) / recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    best = (-1.0, 0, copy.deepcopy(net.state_dict()))
    diverged, loss_value, step = False, float("nan"), 0
    history, first_epoch, seconds_before = [], 1, 0.0
    if saved:
        best = (saved["best_val"], saved["best_epoch"], saved["best_net"])
        loss_value, step, history = saved["loss"], saved["step"], saved["history"]
        first_epoch, seconds_before = saved["epoch"] + 1, saved["seconds"]
    started = time.perf_counter()
    for epoch in range(first_epoch, recipe.epochs + 1):
        net.train()
        order = torch.randperm(len(y_train), generator=generator)
        if device.type != "cpu" and not streamed:
            order = order.to(device, non_blocking=True)
        watch = LossWatch(device)
        for batch, xb in _batches(x_train, order, recipe.batch_size, device, epoch):
            if recipe.augment_flip and not getattr(x_train, "augments_on_device", False):
                flip = torch.rand(len(batch), generator=generator).to(device) < 0.5
                xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            with autocast(step_runs_convs):
                loss = F.cross_entropy(forward(xb), y_train[batch])
            if watch.diverged(loss):
                diverged = True
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(recipe.lr_at(step, total))
            step += 1
        diverged = diverged or not watch.finished()
        if diverged:
            log(f"epoch {epoch}: loss is not finite; the net diverged, training stops")
            warnings.warn("training diverged (non-finite loss)", RuntimeWarning, stacklevel=2)
            break
        loss_value = watch.total / steps_per_epoch
        with autocast(step_runs_convs):
            check = evaluate(net, *feats["val"], start=depth, watch_from=n_frozen)
        val = check.top1
        history.append(
            {
                "epoch": epoch,
                "loss": loss_value,
                "val_top1": val,
                "lr": recipe.lr_at(step - 1, total),
                "top_class_share": check.top_class_share,
                **{f"dead_{layer}": share for layer, share in check.dead.items()},
            }
        )
        dead = " ".join(f"{layer} {share:.0%}" for layer, share in check.dead.items())
        log(f"epoch {epoch}: loss {loss_value:.4f} val_top1 {val:.4f} dead units: {dead}")
        if val > best[0]:
            best = (val, epoch, copy.deepcopy(net.state_dict()))
        if resume:
            resume.save(
                {
                    "epoch": epoch,
                    "net": net.state_dict(),
                    "momentum": optimizer.buffers,
                    "step": step,
                    "loss": loss_value,
                    "history": history,
                    "best_val": best[0],
                    "best_epoch": best[1],
                    "best_net": best[2],
                    "generator": generator.get_state(),
                    "rng": devices.rng_states(device),
                    "seconds": seconds_before + time.perf_counter() - started,
                }
            )
    seconds = seconds_before + time.perf_counter() - started
    if not diverged:
        net.load_state_dict(best[2])
    with autocast(step_runs_convs):
        test = top1(net, *feats["test"], start=depth)
    outcome = Outcome(
        top1=test,
        val_top1=max(best[0], 0.0),
        best_epoch=best[1],
        epochs_run=len(history),
        diverged=diverged,
        final_loss=loss_value,
        train_seconds=seconds,
        history=history,
        device=devices.describe(device),
        resumed_from_epoch=first_epoch - 1,
    )
    return outcome, diagnostics
