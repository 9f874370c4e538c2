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


def write_summary(metrics_paths, out_table, out_csv) -> pd.DataFrame:
    table = read_metrics(metrics_paths)
    write_atomic(out_table, lambda tmp: table.to_parquet(tmp, engine="pyarrow", index=False))
    write_atomic(out_csv, lambda tmp: table.to_csv(tmp, index=False))
    return table


def read_summary(path) -> pd.DataFrame:
    return pd.read_parquet(path, engine="pyarrow")
