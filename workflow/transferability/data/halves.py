"""One half's train/val/test images as a training job takes them, whichever kind of cache
its dataset has: a tensor cache (normalised here), an ImageFolder index (streamed by
imagefolder.py) or a decoded store (store_loader.py), the readers readers.py names. The
split file is checked against the data first, so a stale or hand-edited one fails naming
the file, not in an IndexError.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from . import readers
from .cache import load_cache
from .splits import validate_split


def check_indices(cache_path, cache: dict, half: dict, record=None, split_path=None, split=None):
    """With the whole split record, every check of splits.validate_split; with one half
    alone (the benchmarks), its index ranges."""
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
    cache_path, half: dict, *, record=None, split_path=None, split=None, feed=None
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Train/val/test images of one half (its split-file record), normalised; labels 0..k-1.
    Give the whole split `record` (read from `split_path`, for the job's `split`) to have
    the split file checked against the data before anything trains. `feed`: how a decoded
    store is read (feed.py; a job's settings.get("feed")), ignored by other caches."""
    cache = load_cache(cache_path)
    check_indices(cache_path, cache, half, record, split_path, split)
    relabel = torch.full((len(cache["classes"]),), -1, dtype=torch.int64)
    relabel[torch.tensor(half["class_indices"])] = torch.arange(len(half["class_indices"]))
    reader = readers.reader(cache.get("kind"))  # streamed, or rows of a decoded store
    if reader is not None:
        return reader.read_half(cache_path, cache, half, relabel, feed)
    return _tensor_half(cache, half, relabel)


def _tensor_half(cache: dict, half: dict, relabel: torch.Tensor) -> dict:
    # One normalisation for every half: a scalar (grey) or per-channel (colour) one.
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
