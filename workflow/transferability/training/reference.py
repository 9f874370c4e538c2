"""The reference net of the task distance: one net trained on every class at once, and the
mean of its fc7 features per class on the validation images.

The distance between a split's halves (analysis/distance.py) is measured in this net's
feature space, so it is fixed before any transfer cell trains and uses no transfer result:
the paper's "distance between tasks" as something measured, not a label (docs/claims.md).
fc7 is the top layer an n = 7 transfer copies.
"""

from __future__ import annotations

import json

import torch

from .. import jobinfo
from ..atomic import torch_save, write_text
from ..data.cache import load_cache
from ..data.halves import load_half
from ..data.splits import whole_half
from . import device as devices
from . import models
from .evaluation import EVAL_BATCH
from .sgd import Recipe
from .solver import derived_seed, train

# The stage whose output is the feature: fc7 (stages are conv1..conv5, fc6, fc7, output).
FEATURE_STAGE = models.NUM_LAYERS - 2


@torch.no_grad()
def class_statistics(net: models.TransferNet, x, y: torch.Tensor, num_classes: int) -> dict:
    """Per class, the mean fc7 feature (eval mode) and the confusion matrix (rows: true)."""
    net.eval()
    device = next(net.parameters()).device
    sums = torch.zeros(num_classes, net.stages[FEATURE_STAGE].weight.out_features, device=device)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    for xb, yb in zip(x.split(EVAL_BATCH), y.split(EVAL_BATCH), strict=True):
        out = xb.to(device, non_blocking=True)
        for stage in net.stages[: FEATURE_STAGE + 1]:
            out = stage.deterministic(out)
        yb = yb.to(device)
        sums.index_add_(0, yb, out.float())
        predicted = net(out, start=FEATURE_STAGE + 1).argmax(1)
        confusion += torch.bincount(yb * num_classes + predicted, minlength=num_classes**2).view(
            num_classes, num_classes
        )
    counts = confusion.sum(1, keepdim=True).clamp(min=1)
    return {"class_means": (sums / counts).cpu().tolist(), "confusion": confusion.cpu().tolist()}


def train_reference(*, cache, seed, settings, threads, out_model, out_features, provenance=None):
    devices.pick()
    torch.set_num_threads(threads)
    loaded = load_cache(cache)
    half = whole_half(loaded, settings["data"])
    data = load_half(cache, half, feed=settings.get("feed"))
    num_classes = len(half["class_indices"])
    net_seed = derived_seed("reference", seed)
    torch.manual_seed(net_seed)
    model = settings["model"]
    net = models.TransferNet(
        model["layout"], num_classes, model.get("in_channels", 1), model.get("widths")
    ).to(memory_format=torch.channels_last)
    outcome, _ = train(net, data, Recipe.from_config(settings["recipe"]), 0, net_seed)
    stats = class_statistics(net, *data["val"], num_classes)
    record = {
        "classes": half["classes"],
        "seed": seed,
        "top1": outcome.top1,
        "val_top1": outcome.val_top1,
        "best_epoch": outcome.best_epoch,
        "feature_layer": models.LAYER_NAMES[FEATURE_STAGE],
        "settings": settings,
        **stats,
        # Where it ran, as every net records it: the smoke report checks its GPU use too.
        "treatment": "reference",
        "epochs": outcome.epochs_run,
        "train_seconds": outcome.train_seconds,
        "train_images": len(half["train_idx"]),
        "device": outcome.device,
        "threads": threads,
        **jobinfo.record(outcome.device, settings["recipe"].get("precision", "fp32")),
        **jobinfo.software(),
    }
    torch_save({"state_dict": net.to("cpu").state_dict(), "seed": seed}, out_model)
    write_text(out_features, json.dumps(record, indent=1, sort_keys=True))
    return record
