"""The distance between a split's two tasks, from the reference net's class features
(training/reference.py) and the split's halves alone: no transfer result enters it.

distance = (mean distance between the fc7 class means of a class of half A and a class of
half B - the same within a half) / the mean over all pairs of classes. 0: the halves are no
farther apart than the classes within a half; the semantic split of Fashion-MNIST (upper-body
garments against the rest) is the largest. Beside it, the share of the reference net's
validation confusions that cross the halves (a rougher measure: on 10 classes most
confusions sit in a few pairs), for the record.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

from ..atomic import write_text
from ..data.splits import HALVES, read_split

COLUMNS = ("split", "split_kind", "task_distance", "confusion_across", "classes_A", "classes_B")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _pair_distance(means: list[list[float]], a: int, b: int) -> float:
    return math.dist(means[a], means[b])


def task_distance(features: dict, halves: dict[str, list[int]]) -> dict:
    """The distance and the confusion share across the halves of one split (class
    indices of the reference net's classes)."""
    means, confusion = features["class_means"], features["confusion"]
    k = len(means)
    every = [_pair_distance(means, a, b) for a, b in itertools.combinations(range(k), 2)]
    across = [_pair_distance(means, a, b) for a in halves["A"] for b in halves["B"]]
    within = [
        _pair_distance(means, a, b) for h in HALVES for a, b in itertools.combinations(halves[h], 2)
    ]
    crossing = sum(confusion[a][b] + confusion[b][a] for a in halves["A"] for b in halves["B"])
    wrong = sum(confusion[a][b] for a in range(k) for b in range(k) if a != b)
    return {
        "task_distance": (_mean(across) - _mean(within)) / _mean(every),
        "confusion_across": crossing / wrong if wrong else float("nan"),
    }


def distances(features: dict, split_records: dict[str, dict]) -> list[dict]:
    """One row per split: its distance and the classes of each half."""
    names = features["classes"]
    rows = []
    for split, record in sorted(split_records.items()):
        halves = {h: record["halves"][h]["class_indices"] for h in HALVES}
        if any(i >= len(names) for h in HALVES for i in halves[h]):
            raise ValueError(f"split {split}: class indices beyond the reference net's classes")
        rows.append(
            {
                "split": split,
                "split_kind": record["kind"],
                **task_distance(features, halves),
                **{f"classes_{h}": "; ".join(record["halves"][h]["classes"]) for h in HALVES},
            }
        )
    return rows


def write_distances(features_path, split_paths, out) -> list[dict]:
    features = json.loads(Path(features_path).read_text())
    records = {}
    for path in split_paths:
        record = read_split(path)
        records[record["split"]] = record
    rows = distances(features, records)
    lines = [",".join(COLUMNS)]
    for row in rows:
        lines.append(",".join(_cell(row[c]) for c in COLUMNS))
    write_text(out, "\n".join(lines) + "\n")
    return rows


def _cell(value) -> str:
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return f'"{text}"' if "," in text else text


def read_distances(path) -> dict[str, float]:
    """split -> task distance, from write_distances' file."""
    import pandas as pd

    table = pd.read_csv(path)
    return dict(zip(table["split"], table["task_distance"], strict=True))
