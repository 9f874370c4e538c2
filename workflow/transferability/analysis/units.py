"""Units of resampling: the groups of nets a claim's interval treats as independent.

A cell's top-1 carries the training noise of the base net it is compared with and of the
base it copied its layers from. BnB, BnB+ and random cells touch only their own half's base,
so their unit is that base net (split, target, seed). AnB and AnB+ on target B copy from
baseA and are compared with baseB, and the other direction the other way round: both
directions share both bases, so any claim using them resamples (split, seed) groups. The
decline's cells share their split's class partition, so its unit is the split.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from ..treatments import OTHER, REGISTRY
from .nets import BASE_KEYS, usable_nets

# Treatments whose copied layers come from the other half's base net.
CROSS_HALF = frozenset(t.name for t in REGISTRY if t.copies_from == OTHER)
SPLIT_SEED = ("split", "seed")
BASE_NET = tuple(BASE_KEYS)
# The base net a cell copies from. A within-target difference of AnB cells (n high minus n
# low) does not depend on the target's own base, which cancels; it depends on the one
# base they all copy from, so those cells form the unit, and the two directions of a
# split are two units built on two independently trained bases.
SOURCE_BASE = ("split", "source", "seed")
# Every cell of a split shares its class partition: where the partition drives the effect
# (how specific the higher layers are to one half's classes), the split is the unit.
SPLIT = ("split",)


def unit_keys(treatments: Iterable[str]) -> tuple[str, ...]:
    """The columns naming a claim's independent unit, from the treatments it uses."""
    return SPLIT_SEED if CROSS_HALF & set(treatments) else BASE_NET


def unit_name(keys: Sequence[str]) -> str:
    if tuple(keys) == SPLIT_SEED:
        return "(split, seed) group: both bases of a split and seed with all cells built on them"
    if tuple(keys) == SOURCE_BASE:
        return (
            "source base net (split, source half, seed) with all AnB cells copying from it "
            "(their own base cancels in the difference)"
        )
    if tuple(keys) == SPLIT:
        return "split (both directions, every seed): its cells share one class partition"
    return "base net (split, target, seed) with all cells compared with it"


def labels(cells: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Each cell's unit, as one string ("random0/B/1")."""
    return cells[list(keys)].astype(str).agg("/".join, axis=1)


def per_unit(values: pd.Series, cells: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """One number per unit: the mean of `values` over the unit's cells."""
    if cells.empty:
        return pd.Series(dtype=float)
    return values.groupby(labels(cells, keys)).mean().sort_index()


def groups(
    df: pd.DataFrame, treatments: Iterable[str], keys: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """The trained cells of `treatments`, grouped into the units a claim using them resamples
    (`keys`, by default the unit its treatments call for)."""
    treatments = tuple(treatments)
    keys = tuple(keys) if keys else unit_keys(treatments)
    nets = usable_nets(df)
    cells = nets[nets["treatment"].isin(treatments)]
    if cells.empty:
        return {}
    return {label: group for label, group in cells.groupby(labels(cells, keys), sort=True)}
