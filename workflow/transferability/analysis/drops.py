"""The relative AnB drop per split: what the two-group comparison and the distance slopes
measure (measures.py) and the distance figure draws (figure_distance.py), defined once."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..treatments import TRANSFER
from .nets import pair_with_base

SCALES = ("points", "gain", "error")


def gain(cells: pd.DataFrame) -> pd.Series:
    """Each paired cell's base accuracy above chance: the gain scale's unit."""
    return cells["base_top1"] - cells["chance"]


def error(cells: pd.DataFrame) -> pd.Series:
    """Each paired cell's base error, 1 - top-1: the error scale's unit."""
    return 1 - cells["base_top1"]


def relative_drops(df: pd.DataFrame, ns: Sequence[int]) -> pd.DataFrame:
    """AnB cells at layers `ns` with their drop from their own base: in points, over the
    base's gain over chance and over its error (columns `points`, `gain`, `error`)."""
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == TRANSFER) & paired["n"].isin(ns)].copy()
    diff = cells["top1"] - cells["base_top1"]
    cells["points"] = diff
    cells["gain"] = diff / gain(cells)
    cells["error"] = diff / error(cells)
    return cells


def by_split(cells: pd.DataFrame, by: Sequence[str] = ("split",)) -> pd.DataFrame:
    """Per split (the partition is the unit; its directions and seeds averaged), its kind,
    the drops on every scale, the targets' mean base top-1 and its task distance."""
    columns = [*SCALES, "base_top1"]
    if "task_distance" in cells:
        columns.append("task_distance")
    out = cells.groupby(list(by))[columns].mean()
    return out.join(cells.groupby(list(by))["split_kind"].first())
