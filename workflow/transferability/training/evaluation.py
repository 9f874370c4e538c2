"""Measuring a net in eval mode: top-1, how concentrated its predictions are, and how many
of its units are dead; and the eval-mode forward that caches a frozen prefix's output."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import models

# Images per forward pass outside training steps (frozen prefix, evaluation): no slower
# than 1,000 on 28-px images, and a chunk of 227-px images stays at hundreds of MB of
# activations, not GBs.
EVAL_BATCH = 256


@torch.no_grad()
def run_stages(net: models.TransferNet, x: torch.Tensor, start: int = 0, stop: int | None = None):
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
    # Summed where the net runs and read once at the end: on a GPU, reading per batch
    # would make the host wait for every batch.
    correct, counts = torch.zeros((), dtype=torch.int64, device=y.device), None
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
        correct += (predicted == yb).sum()
        batch_counts = torch.bincount(predicted, minlength=out.shape[1])
        counts = batch_counts if counts is None else counts + batch_counts
    dead = {models.LAYER_NAMES[i]: 1.0 - float(seen.float().mean()) for i, seen in alive.items()}
    return Evaluation(int(correct) / len(y), int(counts.max()) / len(y), dead)


def dead_fraction(features: torch.Tensor) -> float:
    """Fraction of units (channels for conv maps) that are zero on every image."""
    dims = (0, 2, 3) if features.dim() == 4 else (0,)
    alive = features.amax(dim=dims) > 0
    return 1.0 - float(alive.float().mean())
