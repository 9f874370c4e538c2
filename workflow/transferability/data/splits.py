"""Class splits into halves A and B, and the image subsets each half trains on.

Pure Python (no torch) so the Snakefile can check a config's class groups at start.
A split file is JSON and records everything a cell needs to know about its data:
class names and indices of each half, and the train/val/test image indices.
"""

from __future__ import annotations

import difflib
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..atomic import write_text
from ..errors import ConfigError, DataError

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


# A redrawn split's seed: far from the seeds a config gives its splits (seed + i).
REDRAW_STRIDE = 1_000_000


def _partition(halves: dict[str, Sequence[int]]) -> frozenset[frozenset[int]]:
    """A halving without its A/B names: swapping the halves is the same split."""
    return frozenset(frozenset(halves[h]) for h in HALVES)


def distinct_halves(
    num_classes: int, seeds: Sequence[int], draw, avoid: Sequence[dict] = ()
) -> tuple[dict[str, list[int]], int]:
    """The halves of the last of `seeds`, drawn so that no two of the seeds' splits and none
    of `avoid` (the dissimilar halves) are the same halving of the classes.

    Each seed is drawn in order; a draw that repeats a halving already taken is redrawn
    with seed + k * REDRAW_STRIDE (k = 1, 2, ...), so every split file can be made alone,
    deterministically, and records its k. With 10 classes there are only 126 halvings:
    without this, seed 2115 draws exactly the default's dissimilar split.
    Returns (halves, k).
    """
    from ..errors import ConfigError

    count = math.comb(num_classes, num_classes // 2) // (2 if num_classes % 2 == 0 else 1)
    taken = {_partition(h) for h in avoid}
    if len(seeds) + len(taken) > count:
        raise ConfigError(
            f"splits.random: {len(seeds)} random splits distinct from each other and from the "
            f"dissimilar split cannot exist: {num_classes} classes have only {count} halvings; "
            "lower splits.random"
        )
    for seed in seeds:
        halves, redraws = draw(num_classes, seed), 0
        while _partition(halves) in taken:
            redraws += 1
            halves = draw(num_classes, seed + redraws * REDRAW_STRIDE)
        taken.add(_partition(halves))
    return halves, redraws


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
    redraws: int | None = None,
) -> dict:
    record = {"split": split, "kind": kind, "seed": split_seed, "subset_seed": subset_seed}
    if rule:
        record["rule"] = rule  # how a random split was drawn, where not the default shuffle
    if redraws is not None:
        # How often the draw was repeated to differ from the other splits (distinct_halves):
        # the halves are those of seed + redraws * REDRAW_STRIDE.
        record["redraws"] = redraws
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


def split_from_settings(
    split: str,
    settings: dict,
    class_names: Sequence[str],
    cache: dict,
    halves: dict[str, list[int]] | None = None,
    avoid: Sequence[dict] = (),
) -> dict:
    """`make_split` for one split file's settings (the keys of grid.split_settings: kind,
    seed, rule, earlier_seeds, train/val/test_per_class, subset_seed) and a data cache's
    labels (`train_y`, `test_y`). A random split draws its halves here (Python's shuffle, or
    the authors' numpy draw for rule `paper_random`), distinct from the earlier random
    splits' (`earlier_seeds`) and from `avoid` (the dissimilar halves); a dissimilar split
    is given its `halves`."""
    redraws = None
    if halves is None:
        if settings["kind"] != "random":
            raise ValueError(f"split {split!r} of kind {settings['kind']!r}: give its halves")
        draw = paper_random_halves if settings.get("rule") == "paper_random" else random_halves
        seeds = [*settings.get("earlier_seeds", ()), settings["seed"]]
        halves, redraws = distinct_halves(len(class_names), seeds, draw, avoid)
    return make_split(
        split=split,
        kind=settings["kind"],
        class_names=class_names,
        halves=halves,
        train_labels=cache["train_y"].tolist(),
        test_labels=cache["test_y"].tolist(),
        train_per_class=settings["train_per_class"],
        val_per_class=settings["val_per_class"],
        test_per_class=settings["test_per_class"],
        subset_seed=settings["subset_seed"],
        split_seed=settings.get("seed"),
        rule=settings.get("rule"),
        redraws=redraws,
    )


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


PARTS = {"train_idx": "train", "val_idx": "train", "test_idx": "test"}
REMAKE = "delete it so make_split writes it again (the next `snakemake` run does)"


def validate_split(
    record: dict,
    cache: dict,
    path: str | Path,
    *,
    split: str | None = None,
    cache_path: str | Path | None = None,
) -> None:
    """Refuse a split file that is not what make_split writes for this job and this data.

    A person may edit a split file: its halves must be disjoint, each half's train, val
    and test images must be of the half's own classes (else a net trains or is scored on
    the other half's images, or a label falls outside the half), train and val must not
    share an image (the validation score picks the epoch), no image may be listed twice,
    and the split's name and kind must be the job's. `cache` is the data cache (its
    `classes`, `train_y` and `test_y`; labels as tensors or lists).
    """

    def refuse(problem: str, fix: str = REMAKE) -> DataError:
        return DataError(f"{path}: {problem}; {fix}")

    try:
        halves = {h: record["halves"][h] for h in HALVES}
        lists = {
            (h, key): [int(i) for i in halves[h][key]]
            for h in HALVES
            for key in ("class_indices", *PARTS)
        }
        names = {h: list(halves[h]["classes"]) for h in HALVES}
    except (KeyError, TypeError, ValueError) as e:
        raise refuse(f"not a valid split file (missing or malformed {e})") from e
    if split is not None:
        kind = "random" if split.startswith("random") else "dissimilar"
        if record.get("split") != split or record.get("kind") != kind:
            raise refuse(
                f"it is the {record.get('kind')} split {record.get('split')!r}, "
                f"but this job trains on the {kind} split {split!r}"
            )
    a, b = (set(lists[h, "class_indices"]) for h in HALVES)
    if a & b:
        raise refuse(f"class indices {sorted(a & b)} are in both halves (they must be disjoint)")
    classes = list(cache["classes"])
    labels = {
        "train": _as_list(cache["train_y"]),
        "test": _as_list(cache["test_y"]),
    }
    data = f" of the data cache {cache_path}" if cache_path else ""
    for h in HALVES:
        own = lists[h, "class_indices"]
        bad = [i for i in own if not 0 <= i < len(classes)]
        if bad:
            raise refuse(
                f"half {h}'s class_indices {bad[:3]} are out of range "
                f"(< {len(classes)} classes{data}); it was made from other data"
            )
        if names[h] != [classes[i] for i in own]:
            raise refuse(
                f"half {h}'s classes {names[h]} are not the data's classes "
                f"{[classes[i] for i in own]} of its class_indices {own}"
            )
        own_set = set(own)
        seen: dict[str, set[int]] = {"train": set(), "test": set()}
        for key, part in PARTS.items():
            idx = lists[h, key]
            if not idx:
                raise refuse(f"half {h}'s {key} is empty")
            bad = [i for i in idx if not 0 <= i < len(labels[part])]
            if bad:
                raise refuse(
                    f"half {h}'s {key} {bad[:3]} are out of range (< {len(labels[part])} "
                    f"images{data}); "
                    "it was made from other data"
                )
            foreign = [i for i in idx if labels[part][i] not in own_set]
            if foreign:
                other = sorted({classes[labels[part][i]] for i in foreign})
                raise refuse(
                    f"half {h}'s {key} lists {len(foreign)} images of classes {other}, "
                    f"which are not half {h}'s (e.g. index {foreign[0]})"
                )
            unique = set(idx)
            if len(unique) != len(idx):
                twice = sorted(i for i, count in Counter(idx).items() if count > 1)
                raise refuse(f"half {h}'s {key} lists images {twice[:3]} more than once")
            if shared := seen[part] & unique:
                raise refuse(
                    f"half {h}'s {key} has images {sorted(shared)[:3]} that are in its train_idx "
                    "too: validation images must not be trained on"
                )
            seen[part] |= unique


def _as_list(labels) -> list[int]:
    return labels.tolist() if hasattr(labels, "tolist") else list(labels)


def whole_half(cache: dict, settings: dict) -> dict:
    """Every class as one half, with the images each class has in every split (the sample
    is seeded per class, `_per_class_sample`): what the reference net of the task distance
    trains on (training/reference.py). `settings`: grid.reference_settings()["data"]."""
    classes = list(range(len(cache["classes"])))
    val_idx, train_idx = _per_class_sample(
        _as_list(cache["train_y"]),
        classes,
        [settings["val_per_class"], settings["train_per_class"]],
        settings["subset_seed"],
    )
    (test_idx,) = _per_class_sample(
        _as_list(cache["test_y"]), classes, [settings["test_per_class"]], settings["subset_seed"]
    )
    return {
        "classes": list(cache["classes"]),
        "class_indices": classes,
        "train_idx": train_idx,
        "val_idx": val_idx,
        "test_idx": test_idx,
    }
