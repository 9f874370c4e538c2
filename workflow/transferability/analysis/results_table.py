"""The tidy results table: one row per trained net, gathered from the metrics files."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from ..atomic import write_atomic
from ..errors import DataError
from ..training.status import STATUSES, classify
from ..treatments import is_random

# Columns first in the table, in this order; the rest (provenance) follow sorted.
KEY_COLUMNS = [
    "split",
    "split_kind",
    "target",
    "source",
    "treatment",
    "n",
    "seed",
    "top1",
    "val_top1",
    "diverged",
    "status",
    "status_reason",
    "chance",
    "epochs",
    "best_epoch",
    "train_seconds",
]
# Per-epoch history and class lists stay in the metrics files; the table is flat.
NESTED = ("history", "classes", "settings")


def flat_settings(settings: dict) -> dict:
    """`{"recipe": {"lr": 0.03}}` as `{"recipe_lr": 0.03}`: one column per resolved setting.

    Lists become JSON text, so a column keeps one type in parquet.
    """
    return {
        f"{group}_{key}": json.dumps(value) if isinstance(value, list | dict) else value
        for group, values in settings.items()
        if isinstance(values, dict)
        for key, value in values.items()
    }


# What every metrics file must hold, and where a net's file lives (results/...): a file's
# record must be the net its path names.
REQUIRED = ("split", "target", "treatment", "n", "seed", "top1", "val_top1")
_BASE_PATH = re.compile(r"base/(?P<split>[^/]+)/(?P<target>[^/]+)/seed(?P<seed>\d+)/metrics\.json$")
_CELL_PATH = re.compile(
    r"cells/(?P<split>[^/]+)/(?P<target>[^/]+)/(?P<treatment>[^/]+)/n(?P<n>\d+)"
    r"/seed(?P<seed>\d+)/metrics\.json$"
)
REMAKE = "delete it so its net is retrained (the next `snakemake` run does)"


def check_metrics(record, path) -> None:
    """Refuse a metrics file a person (or a bug) made impossible: keys missing, a top-1
    outside [0, 1], or a record of another net than the one its path names."""

    def refuse(problem: str) -> DataError:
        return DataError(f"{path}: {problem}; {REMAKE}")

    if not isinstance(record, dict):
        raise refuse("not a metrics record (a JSON object)")
    if missing := [k for k in REQUIRED if k not in record]:
        raise refuse(f"keys {missing} are missing")
    for key in ("top1", "val_top1"):
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise refuse(f"{key} is {value!r}, not a fraction in [0, 1]")
    if problem := _type_problem(record):
        raise refuse(problem)
    posix = Path(path).as_posix()
    if match := _BASE_PATH.search(posix):
        expected = match.groupdict() | {"treatment": "base", "n": "0"}
    elif match := _CELL_PATH.search(posix):
        expected = match.groupdict()
    else:  # not under results/ (a file handed over by hand): nothing to compare with
        return
    wrong = {k: record[k] for k, v in expected.items() if str(record[k]) != v}
    if wrong:
        named = ", ".join(f"{k}={v}" for k, v in expected.items())
        raise refuse(f"its record says {wrong}, but its path is the net's with {named}")


def _type_problem(record: dict) -> str | None:
    """A value of the wrong type would reach pyarrow as a column of mixed types and stop
    the table with its traceback; an impossible one would be counted."""
    for key in ("n", "seed"):
        if isinstance(record[key], bool) or not isinstance(record[key], int):
            return f"{key} is {record[key]!r}, not a whole number"
    for key in ("split", "target", "treatment"):
        if not isinstance(record[key], str):
            return f"{key} is {record[key]!r}, not a name"
    seconds = record.get("train_seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        return f"train_seconds is {seconds!r}, not a duration of 0 s or more"
    if "status" in record and record["status"] not in STATUSES:
        return f"status is {record['status']!r}, not one of {list(STATUSES)}"
    for row in record.get("history") or []:
        if not isinstance(row, dict):
            return f"history holds {row!r}, not an epoch's record"
        # Only finished epochs are recorded (a diverged epoch ends training unrecorded).
        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            return f"history epoch {row.get('epoch')!r} has non-finite {bad}"
    return None


def judged(record: dict) -> dict:
    """The record with its status: judged here, from what training measured, so a change
    to the rule (training/status.py) reruns this step, not the nets."""
    status, reason = classify(
        record.get("history") or [],
        bool(record.get("diverged")),
        record["chance"],
        near_chance_is_a_result=is_random(record["treatment"]),
    )
    return record | {"status": status, "status_reason": reason}


def load_records(paths) -> list[tuple[str, dict]]:
    """Every metrics file read, checked and judged once: (path, record)."""
    records = []
    for path in paths:
        try:
            record = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise DataError(
                f"{path}: not a readable metrics file ({e}); delete it so its net is retrained"
            ) from e
        check_metrics(record, path)
        records.append((str(path), judged(record) if "chance" in record else record))
    return records


def _net_table(records) -> pd.DataFrame:
    rows = []
    for path, record in records:
        row = record | flat_settings(record.get("settings", {}))
        row["settings"] = json.dumps(record.get("settings", {}), sort_keys=True)
        row["metrics_path"] = path
        # A net's input identities stay in its metrics file: provenance_key stands for them.
        rows.append({k: v for k, v in row.items() if k not in (*NESTED[:2], "inputs")})
    table = pd.DataFrame(rows)
    # Metrics written before nets had a status: the analysis derives it from `diverged`.
    table = table.reindex(columns=[*KEY_COLUMNS, *(c for c in table if c not in KEY_COLUMNS)])
    rest = sorted(c for c in table.columns if c not in KEY_COLUMNS)
    table = table[KEY_COLUMNS + rest]
    return table.sort_values(["split", "target", "treatment", "n", "seed"], ignore_index=True)


def read_metrics(paths) -> pd.DataFrame:
    return _net_table(load_records(paths))


# A net's identity and fate, repeated on each of its epochs in the history table.
HISTORY_KEYS = ["split", "split_kind", "target", "source", "treatment", "n", "seed", "status"]


def _history_table(records) -> pd.DataFrame:
    rows = []
    for _, record in records:
        key = {k: record.get(k) for k in HISTORY_KEYS}
        rows += [key | epoch for epoch in record.get("history", [])]
    table = pd.DataFrame(rows, columns=[*HISTORY_KEYS, "epoch"] if not rows else None)
    dead = sorted(c for c in table.columns if c.startswith("dead_"))
    rest = [c for c in table.columns if c not in HISTORY_KEYS and c not in dead]
    table = table[HISTORY_KEYS + rest + dead]
    return table.sort_values(
        ["split", "target", "treatment", "n", "seed", "epoch"], ignore_index=True
    )


def history_from_metrics(paths) -> pd.DataFrame:
    """One row per net and epoch: train loss, validation top-1, learning rate, the share of
    the most-predicted class and the dead-unit fraction of each trainable ReLU layer."""
    return _history_table(load_records(paths))


def _write_parquet(table: pd.DataFrame, path) -> None:
    write_atomic(path, lambda tmp: table.to_parquet(tmp, engine="pyarrow", index=False))


def with_distances(table: pd.DataFrame, distances_path) -> pd.DataFrame:
    """The table with each split's task distance (analysis/distance.py) as a column."""
    from .distance import read_distances

    by_split = read_distances(distances_path)
    if missing := sorted(set(table["split"]) - set(by_split)):
        raise DataError(
            f"{distances_path}: no task distance for splits {missing}; delete it so the "
            "task_distance step writes it again (the next `snakemake` run does)"
        )
    return table.assign(task_distance=table["split"].map(by_split))


def write_summary(
    metrics_paths, out_table, out_csv, out_history=None, keys=None, distances=None
) -> pd.DataFrame:
    """The results table (parquet and CSV) and the history table, from one read of the
    metrics files. `keys`: each metrics file's job key as its record gave it (records.py),
    kept in the table's `key` column, so a committed table says which nets made it.
    `distances`: the task_distance step's file, whose distances become a column."""
    records = load_records(metrics_paths)
    if keys:
        records = [(path, record | {"key": keys.get(path)}) for path, record in records]
    table = _net_table(records)
    if distances is not None:
        table = with_distances(table, distances)
    _write_parquet(table, out_table)
    write_atomic(out_csv, lambda tmp: table.to_csv(tmp, index=False))
    if out_history is not None:
        _write_parquet(_history_table(records), out_history)
    return table


def read_table(path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(
            f"{path}: not a readable table ({reason}); delete it so the aggregate step "
            "writes it again (the next `snakemake` run does)"
        ) from e


read_summary = read_history = read_table  # the results table and the history table
