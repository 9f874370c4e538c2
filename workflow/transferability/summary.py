"""The tidy results table: one row per trained net, gathered from the metrics files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .atomic import write_atomic
from .errors import DataError

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


def read_metrics(paths) -> pd.DataFrame:
    rows = []
    for path in paths:
        try:
            record = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise DataError(
                f"{path}: not a readable metrics file ({e}); delete it so its net is retrained"
            ) from e
        record |= flat_settings(record.get("settings", {}))
        record["settings"] = json.dumps(record.get("settings", {}), sort_keys=True)
        record["metrics_path"] = str(path)
        rows.append({k: v for k, v in record.items() if k not in NESTED[:2]})
    table = pd.DataFrame(rows)
    rest = sorted(c for c in table.columns if c not in KEY_COLUMNS)
    table = table[KEY_COLUMNS + rest]
    return table.sort_values(["split", "target", "treatment", "n", "seed"], ignore_index=True)


# A net's identity and fate, repeated on each of its epochs in the history table.
HISTORY_KEYS = ["split", "split_kind", "target", "source", "treatment", "n", "seed", "status"]


def history_from_metrics(paths) -> pd.DataFrame:
    """One row per net and epoch: train loss, validation top-1, learning rate, the share of
    the most-predicted class and the dead-unit fraction of each trainable ReLU layer."""
    rows = []
    for path in paths:
        record = json.loads(Path(path).read_text())
        key = {k: record.get(k) for k in HISTORY_KEYS}
        rows += [key | epoch for epoch in record.get("history", [])]
    table = pd.DataFrame(rows, columns=[*HISTORY_KEYS, "epoch"] if not rows else None)
    dead = sorted(c for c in table.columns if c.startswith("dead_"))
    rest = [c for c in table.columns if c not in HISTORY_KEYS and c not in dead]
    table = table[HISTORY_KEYS + rest + dead]
    return table.sort_values(
        ["split", "target", "treatment", "n", "seed", "epoch"], ignore_index=True
    )


def write_summary(metrics_paths, out_table, out_csv, out_history=None) -> pd.DataFrame:
    table = read_metrics(metrics_paths)
    write_atomic(out_table, lambda tmp: table.to_parquet(tmp, engine="pyarrow", index=False))
    write_atomic(out_csv, lambda tmp: table.to_csv(tmp, index=False))
    if out_history is not None:
        history = history_from_metrics(metrics_paths)
        write_atomic(
            out_history, lambda tmp: history.to_parquet(tmp, engine="pyarrow", index=False)
        )
    return table


def read_summary(path) -> pd.DataFrame:
    return pd.read_parquet(path, engine="pyarrow")


def read_history(path) -> pd.DataFrame:
    return pd.read_parquet(path, engine="pyarrow")
