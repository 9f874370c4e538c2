"""Class splits into halves A and B, and the image subsets each half trains on.

Pure Python (no torch) so the Snakefile can check a config's class groups at start.
A split file is JSON and records everything a cell needs to know about its data:
class names and indices of each half, and the train/val/test image indices.
"""

from __future__ import annotations

import difflib
import json
import random
from collections.abc import Sequence
from pathlib import Path

from .atomic import write_text
from .errors import ConfigError, DataError

HALVES = ("A", "B")


def random_halves(num_classes: int, seed: int) -> dict[str, list[int]]:
    """A seeded random partition of the classes into two halves of equal size."""
    order = list(range(num_classes))
    random.Random(seed).shuffle(order)
    half = num_classes // 2
    return {"A": sorted(order[:half]), "B": sorted(order[half:])}


def paper_random_halves(num_classes: int, seed: int) -> dict[str, list[int]]:
    """The authors' draw (convnet_transfer, ilsvrc12/make_reduced_dataset.py): numpy's
    legacy generator seeded with the one-element list [seed] (init_by_array, which gives
    other numbers than the integer seed), half A = sorted(choice(arange(N), N // 2,
    replace=False)), half B the rest. For N = 1000 and seed 0..3 these are the paper's
    four random splits; for another N the same rule, half the classes in A."""
    import numpy

    numpy.random.seed([seed])
    a = sorted(
        int(i)
        for i in numpy.random.choice(numpy.arange(num_classes), num_classes // 2, replace=False)
    )
    taken = set(a)
    return {"A": a, "B": [i for i in range(num_classes) if i not in taken]}


def resolve_groups(
    names: Sequence[str], groups: dict[str, Sequence[str]], key: str = "splits.dissimilar"
) -> dict[str, list[int]]:
    """Class indices of named groups; groups must be disjoint and cover every class."""
    index = {name: i for i, name in enumerate(names)}
    halves = {}
    for half in HALVES:
        members = groups.get(half)
        if not members:
            raise ConfigError(f"{key}.{half}: give the class names of half {half}")
        for name in members:
            if name not in index:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"{key}.{half}: unknown class name {name!r}{hint}; known classes: {list(names)}"
                )
        halves[half] = sorted(index[name] for name in members)
    overlap = set(halves["A"]) & set(halves["B"])
    if overlap:
        raise ConfigError(
            f"{key}: classes {[names[i] for i in sorted(overlap)]} are in both A and B; "
            "each class belongs to exactly one half"
        )
    missing = set(range(len(names))) - set(halves["A"]) - set(halves["B"])
    if missing:
        raise ConfigError(
            f"{key}: classes {[names[i] for i in sorted(missing)]} are in neither A nor B; "
            "the two halves must cover every class"
        )
    return halves


def _per_class_sample(
    labels: Sequence[int], classes: Sequence[int], counts: Sequence[int | None], seed: int
) -> list[list[int]]:
    """For each count, disjoint image indices: `count` per class (None = all the rest).

    Seeded per class, not per split, so a class trains on the same images in every
    split: split-to-split differences then come from the classes, not the sampling.
    """
    by_class: dict[int, list[int]] = {c: [] for c in classes}
    for i, y in enumerate(labels):
        if y in by_class:
            by_class[y].append(i)
    parts: list[list[int]] = [[] for _ in counts]
    for c in classes:
        pool = by_class[c]
        random.Random(f"{seed}-{c}").shuffle(pool)
        start = 0
        for part, count in zip(parts, counts, strict=True):
            stop = len(pool) if count is None else start + count
            if stop > len(pool):
                raise ConfigError(
                    f"subset: class {c} has {len(pool)} images, fewer than the "
                    f"{sum(x or 0 for x in counts)} asked for; lower subset.*_per_class"
                )
            part.extend(pool[start:stop])
            start = stop
    return [sorted(p) for p in parts]


def make_split(
    *,
    split: str,
    kind: str,
    class_names: Sequence[str],
    halves: dict[str, list[int]],
    train_labels: Sequence[int],
    test_labels: Sequence[int],
    train_per_class: int | None,
    val_per_class: int,
    test_per_class: int | None,
    subset_seed: int,
    split_seed: int | None,
    rule: str | None = None,
) -> dict:
    record = {"split": split, "kind": kind, "seed": split_seed, "subset_seed": subset_seed}
    if rule:
        record["rule"] = rule  # how a random split was drawn, where not the default shuffle
    record["halves"] = {}
    for half in HALVES:
        classes = halves[half]
        val_idx, train_idx = _per_class_sample(
            train_labels, classes, [val_per_class, train_per_class], subset_seed
        )
        (test_idx,) = _per_class_sample(test_labels, classes, [test_per_class], subset_seed)
        record["halves"][half] = {
            "classes": [class_names[c] for c in classes],
            "class_indices": list(classes),
            "train_idx": train_idx,
            "val_idx": val_idx,
            "test_idx": test_idx,
        }
    return record


def write_split(record: dict, path: str | Path) -> None:
    write_text(path, json.dumps(record, indent=1))


def read_split(path: str | Path) -> dict:
    """Load a split file and check that its halves are still disjoint (it may be hand-edited)."""
    try:
        record = json.loads(Path(path).read_text())
        a, b = (set(record["halves"][h]["class_indices"]) for h in HALVES)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a valid split file ({e}); delete it and rerun") from e
    if a & b:
        raise DataError(
            f"{path}: class indices {sorted(a & b)} are in both halves; a split file must "
            "have disjoint halves — delete it so make_split writes it again"
        )
    return record
