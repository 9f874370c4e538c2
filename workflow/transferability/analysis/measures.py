"""The claims' measures: from the results table to one value per independent unit.

Each measure takes the table and its claim's registry entry (claims.REGISTRY: the unit and the
treatments it reads) and returns a `Measurement`, or `Measurement.nothing(why)` when the table
holds no nets it can use. It says what it found; the verdict, what a verdict needs and the nets
left out are the registry's (claims.evaluate). Effects are differences of top-1 and, on the
scale verdicts use, shares of the base's accuracy above chance (`gain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from ..treatments import SELFFER, SELFFER_FT, TRANSFER, TRANSFER_FT
from .layer_sets import ALL_N, HIGH_END_N, HIGH_N, HIGH_N_MIN, LOW_END_N, MID_N, RANDOM_N_MIN
from .measured import (
    NAN,
    Measured,
    Measurement,
    both_scales,
    ci_text,
    ns_text,
    pct,
    points,
    signed_pct,
    units_and_nets,
)
from .nets import BASE_KEYS, pair_with_base, usable_nets
from .stats import MIN_UNITS, welch_interval
from .units import SOURCE_BASE, labels, per_unit


class ClaimSpec(Protocol):
    """What a measure reads of its claim (claims.ClaimSpec, the registry's entry): named
    here, not imported, so the registry can name its measures."""

    treatments: tuple[str, ...]
    control: str

    @property
    def keys(self) -> tuple[str, ...]: ...


# A base within 1 point of chance makes (top1 - chance) / (base - chance) explode, so such
# units are dropped from the normalised-accuracy claim.
MIN_BASE_ABOVE_CHANCE = 0.01


def _gain(cells: pd.DataFrame) -> pd.Series:
    """Each paired cell's base accuracy above chance: the gain scale's unit."""
    return cells["base_top1"] - cells["chance"]


def _measure(diff: pd.Series, cells: pd.DataFrame, keys: Sequence[str]) -> Measured:
    """Per unit, the mean of a difference in points and of it over the base's gain."""
    return Measured(per_unit(diff, cells, keys), per_unit(diff / _gain(cells), cells, keys))


def _ns(cells: pd.DataFrame) -> tuple[int, ...]:
    return tuple(sorted(set(cells["n"])))


def selffer_low_n(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == SELFFER) & paired["n"].isin(LOW_END_N)]
    if cells.empty:
        return Measurement.nothing("no trained BnB net at n=1 or 2 with a trained base")
    measured = _measure(cells["top1"] - cells["base_top1"], cells, claim.keys)
    return Measurement(measured, len(cells), units_and_nets(measured, len(cells)), _ns(cells))


def _dip(unit: pd.DataFrame) -> float:
    """Mid minus ends; needs both ends, or a monotone slope would pass for a dip."""
    by_n = unit.groupby("n")["top1"].mean()
    low, mid, high = (by_n[by_n.index.isin(ns)] for ns in (LOW_END_N, MID_N, HIGH_END_N))
    if low.empty or mid.empty or high.empty:
        return NAN
    return float(mid.mean() - (low.mean() + high.mean()) / 2)


def selffer_dip(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    paired = pair_with_base(df)
    cells = paired[paired["treatment"] == SELFFER]
    groups = dict(iter(cells.groupby(labels(cells, claim.keys), sort=True))) if len(cells) else {}
    dips = pd.Series({label: _dip(unit) for label, unit in groups.items()}, dtype=float).dropna()
    if dips.empty:
        return Measurement.nothing(
            "no base net has BnB nets at a low end (n=1,2), the middle (n=3..5) and a high "
            "end (n=6,7)"
        )
    gains = pd.Series({label: _gain(groups[label]).iloc[0] for label in dips.index})
    n_nets = sum(len(groups[label]) for label in dips.index)
    measured = Measured(dips, dips / gains)
    return Measurement(measured, n_nets, units_and_nets(measured, n_nets))


def _decline(unit: pd.DataFrame, diff: pd.Series) -> float:
    low, high = diff[unit["n"].isin(LOW_END_N)], diff[unit["n"] >= HIGH_N_MIN]
    return float(high.mean() - low.mean()) if len(low) and len(high) else NAN


def _declines(cells: pd.DataFrame) -> pd.DataFrame:
    """Per source base (split, source, seed): the decline in points and on the gain scale."""
    rows = {}
    for label, unit in cells.groupby(labels(cells, SOURCE_BASE), sort=True):
        diff = unit["top1"] - unit["base_top1"]
        rows[label] = {
            "split": unit["split"].iloc[0],
            "points": _decline(unit, diff),
            "gain": _decline(unit, diff / _gain(unit)),
        }
    return pd.DataFrame.from_dict(rows, orient="index").dropna()


def transfer_decline(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == TRANSFER) & (paired["split_kind"] == "random")]
    per_source = _declines(cells) if len(cells) else pd.DataFrame()
    if per_source.empty:
        return Measurement.nothing(
            f"no source base net on a random split has AnB nets with a trained base at both "
            f"n=1,2 and n>={HIGH_N_MIN}"
        )
    # The split is the unit: its two directions share the class partition that makes the
    # high layers specific. Each split weighs the same, however many seeds it has.
    by_split = per_source.groupby("split")[["points", "gain"]].mean()
    measured = Measured(by_split["points"], by_split["gain"])
    sources = Measured(per_source["points"], per_source["gain"])
    n_nets = int(labels(cells, SOURCE_BASE).isin(per_source.index).sum())
    aside = (
        f". With the source base net as the unit instead ({len(sources)} units, which share "
        f"splits): {both_scales(sources)}"
    )
    return Measurement(measured, n_nets, units_and_nets(measured, n_nets), aside=aside)


def _ft_boost(df: pd.DataFrame, claim: ClaimSpec, ns: Sequence[int]) -> Measurement:
    paired = pair_with_base(df)
    cells = paired[
        (paired["treatment"] == TRANSFER_FT)
        & (paired["split_kind"] == "random")
        & paired["n"].isin(ns)
    ]
    if cells.empty:
        return Measurement.nothing(
            f"no trained AnB+ net at n={ns_text(ns)} with a trained base on random splits"
        )
    measured = _measure(cells["top1"] - cells["base_top1"], cells, claim.keys)
    # The control pairs each AnB+ with the BnB+ of the same target, split, seed and n.
    nets = usable_nets(df)
    bnb_ft = nets[nets["treatment"] == SELFFER_FT][[*BASE_KEYS, "n", "top1"]]
    bnb_ft = bnb_ft.groupby([*BASE_KEYS, "n"], as_index=False)["top1"].mean()
    matched = cells.merge(bnb_ft, on=[*BASE_KEYS, "n"], suffixes=("", "_control"))
    control = _measure(matched["top1"] - matched["top1_control"], matched, claim.keys)
    control_text = (
        f"{both_scales(control)} ({len(matched)} AnB+/BnB+ pairs of the same target, seed and n)"
        if len(control)
        else "no BnB+ nets to compare with"
    )
    result = f"{units_and_nets(measured, len(cells))}. Control, {claim.control}: {control_text}"
    return Measurement(measured, len(cells), result, _ns(cells), control=control)


def ft_boost(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    return _ft_boost(df, claim, ALL_N)


def ft_boost_high_n(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    return _ft_boost(df, claim, HIGH_N)


def dissimilar_drop(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == TRANSFER) & (paired["n"] >= HIGH_N_MIN)]
    kind = cells["split_kind"]
    # Compare the two kinds at the same n, otherwise a deeper n on one side fakes a bigger drop.
    ns = sorted(set(cells.loc[kind == "random", "n"]) & set(cells.loc[kind == "dissimilar", "n"]))
    if not ns:
        return Measurement.nothing(
            f"needs AnB nets with a trained base at a common n>={HIGH_N_MIN} on both random "
            "and dissimilar splits"
        )
    cells = cells[cells["n"].isin(ns)]
    diff = cells["top1"] - cells["base_top1"]
    is_dis = cells["split_kind"] == "dissimilar"
    dis = _measure(diff[is_dis], cells[is_dis], claim.keys)
    rnd = _measure(diff[~is_dis], cells[~is_dis], claim.keys)
    cis = (
        welch_interval(dis.points.to_numpy(), rnd.points.to_numpy()),
        welch_interval(dis.gain.to_numpy(), rnd.gain.to_numpy()),
    )
    effects = (dis.points.mean() - rnd.points.mean(), dis.gain.mean() - rnd.gain.mean())
    if np.isnan(cis[1][0]):
        interval = (
            f"no interval ({len(dis)} dissimilar and {len(rnd)} random units; at least "
            f"{MIN_UNITS} needed on each side)"
        )
    else:
        interval = (
            f"95% CI [{signed_pct(cis[1][0])}, {signed_pct(cis[1][1])}] (Welch, {len(dis)} "
            f"dissimilar vs {len(rnd)} random units); in points of top-1 "
            f"{points(effects[0])} [{points(cis[0][0])}, {points(cis[0][1])}]"
        )
    result = (
        f". Dissimilar {signed_pct(dis.gain.mean())} ({len(dis)} units, {int(is_dis.sum())} "
        f"nets) minus random {signed_pct(rnd.gain.mean())} ({len(rnd)} units, "
        f"{int((~is_dis).sum())} nets): {signed_pct(effects[1])}, {interval}"
    )
    measured = Measured(pd.concat([dis.points, rnd.points]), pd.concat([dis.gain, rnd.gain]))
    return Measurement(measured, len(cells), result, tuple(ns), cis=cis, effects=effects)


def share_kept(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    """How much of the base's gain over chance nets with frozen random layers keep."""
    (treatment,) = claim.treatments
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == treatment) & (paired["n"] >= RANDOM_N_MIN)]
    cells = cells[_gain(cells) >= MIN_BASE_ABOVE_CHANCE]
    if cells.empty:
        return Measurement.nothing(
            f"no trained {treatment} net at n>={RANDOM_N_MIN} with a trained base above chance"
        )
    kept = (cells["top1"] - cells["chance"]) / _gain(cells)
    measured = Measured(
        per_unit(cells["top1"] - cells["base_top1"], cells, claim.keys),
        per_unit(kept, cells, claim.keys),
    )
    result = (
        f"; {len(measured)} units, {len(cells)} nets: {pct(measured.gain.mean())} kept, "
        f"{ci_text(measured.cis()[1], len(measured), pct)}; in points, "
        f"{points(measured.points.mean())} vs the base"
    )
    return Measurement(measured, len(cells), result, _ns(cells))
