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
from .drops import SCALES, by_split, relative_drops
from .drops import error as _error
from .drops import gain as _gain
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
from .stats import MIN_UNITS, beyond_interval, slope_interval
from .units import SOURCE_BASE, labels, per_unit


class ClaimSpec(Protocol):
    """What a measure reads of its claim (claims.ClaimSpec, the registry's entry): named
    here, not imported, so the registry can name its measures."""

    treatments: tuple[str, ...]
    control: str
    ns: tuple[int, ...]  # the layers its measure reads, where the registry picks them

    @property
    def keys(self) -> tuple[str, ...]: ...


# A base within 1 point of chance makes (top1 - chance) / (base - chance) explode, so such
# units are dropped from the normalised-accuracy claim.
MIN_BASE_ABOVE_CHANCE = 0.01


def _measure(diff: pd.Series, cells: pd.DataFrame, keys: Sequence[str]) -> Measured:
    """Per unit, the mean of a difference in points, over the base's gain and over its
    error."""
    return Measured(
        per_unit(diff, cells, keys),
        per_unit(diff / _gain(cells), cells, keys),
        per_unit(diff / _error(cells), cells, keys),
    )


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
    errors = pd.Series({label: _error(groups[label]).iloc[0] for label in dips.index})
    n_nets = sum(len(groups[label]) for label in dips.index)
    measured = Measured(dips, dips / gains, dips / errors)
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
            "error": _decline(unit, diff / _error(unit)),
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
    by_split = per_source.groupby("split")[["points", "gain", "error"]].mean()
    measured = Measured(by_split["points"], by_split["gain"], by_split["error"])
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


def _scale_text(values: pd.Series) -> str:
    return ", ".join(f"{label} {signed_pct(v)}" for label, v in values.items())


def dissimilar_drop(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    """The semantic partition's relative drop minus the random partitions' mean, with the
    partition as the unit: one dissimilar partition against the spread of the random ones
    (stats.beyond_interval)."""
    cells = relative_drops(df, claim.ns)
    splits = by_split(cells) if len(cells) else pd.DataFrame(columns=["split_kind"])
    rnd = splits[splits["split_kind"] == "random"]
    dis = splits[splits["split_kind"] == "dissimilar"]
    if rnd.empty or dis.empty:
        return Measurement.nothing(
            f"needs AnB nets with a trained base at n={ns_text(claim.ns)} on both random "
            "splits and the dissimilar partition"
        )
    found = {
        scale: (float(dis[scale].mean() - rnd[scale].mean()), _beyond(dis[scale], rnd[scale]))
        for scale in SCALES
    }
    effect, interval = found["gain"]
    if np.isnan(interval[0]):
        text = f"no interval ({len(rnd)} random partitions; at least {MIN_UNITS} needed)"
    else:
        text = (
            f"95% interval [{signed_pct(interval[0])}, {signed_pct(interval[1])}] (the one "
            f"dissimilar partition against the spread of {len(rnd)} random ones: a prediction "
            f"interval, t({len(rnd) - 1}) x sd x sqrt(1 + 1/{len(rnd)})); in points of top-1 "
            f"{points(found['points'][0])} [{points(found['points'][1][0])}, "
            f"{points(found['points'][1][1])}]"
        )
    per_direction = cells[cells["split_kind"] == "dissimilar"].groupby("target")["gain"].mean()
    random_direction = cells[cells["split_kind"] == "random"].groupby("target")["gain"].mean()
    result = (
        f". Dissimilar {signed_pct(dis['gain'].mean())} (1 partition, "
        f"{int((cells['split_kind'] == 'dissimilar').sum())} nets; by target half: "
        f"{_scale_text(per_direction)}) minus random {signed_pct(rnd['gain'].mean())} "
        f"({len(rnd)} partitions, {int((cells['split_kind'] == 'random').sum())} nets; by "
        f"target half: {_scale_text(random_direction)}): {signed_pct(effect)}, {text}"
    )
    measured = Measured(
        pd.concat([dis["points"], rnd["points"]]), pd.concat([dis["gain"], rnd["gain"]])
    )
    return Measurement(
        measured,
        len(cells),
        result,
        tuple(claim.ns),
        cis=(found["points"][1], found["gain"][1]),
        effects=(found["points"][0], found["gain"][0]),
        error=found["error"],
    )


def _beyond(dissimilar: pd.Series, random: pd.Series) -> tuple[float, float]:
    return beyond_interval(float(dissimilar.mean()), random.to_numpy())


# Splits the slope needs at the least: three coefficients and two degrees of freedom left.
MIN_SLOPE_SPLITS = 5


def distance_slope(df: pd.DataFrame, claim: ClaimSpec) -> Measurement:
    """The slope of the relative AnB drop on the task distance over splits (the unit),
    with the targets' base top-1 as a covariate; as an effect, the drop it predicts across
    the run's range of distances (slope x range), so it is judged against the two-group
    claim's margin."""
    cells = relative_drops(df, claim.ns)
    if cells.empty or "task_distance" not in cells or cells["task_distance"].isna().all():
        return Measurement.nothing(
            f"needs AnB nets with a trained base at n={ns_text(claim.ns)} and each split's "
            "task distance (the table's task_distance column, from the task_distance step)"
        )
    splits = by_split(cells)
    if len(splits) < MIN_SLOPE_SPLITS:
        return Measurement.nothing(
            f"{len(splits)} splits; the slope with a covariate needs at least {MIN_SLOPE_SPLITS}"
        )
    distance = splits["task_distance"]
    span = float(distance.max() - distance.min())
    fits = {scale: slope_interval(splits[scale], distance, splits["base_top1"]) for scale in SCALES}
    slope, (low, high), base_coef = fits["gain"]
    per_direction = []
    for target, part in cells.groupby("target"):
        d = by_split(part)
        b, (lo, hi), _ = slope_interval(d["gain"], d["task_distance"], d["base_top1"])
        ci = f"[{signed_pct(0.1 * lo)}, {signed_pct(0.1 * hi)}]"
        per_direction.append(f"target {target} {signed_pct(0.1 * b)} {ci}")
    dissimilar = splits.loc[splits["split_kind"] == "dissimilar", "task_distance"]
    where = f"; the dissimilar partition at {dissimilar.iloc[0]:.3f}" if len(dissimilar) else ""
    result = (
        f"; {len(splits)} splits, {len(cells)} nets, task distances {distance.min():.3f} to "
        f"{distance.max():.3f}{where}. Slope: {signed_pct(0.1 * slope)} of the base's gain over "
        f"chance per 0.1 of distance, 95% CI [{signed_pct(0.1 * low)}, {signed_pct(0.1 * high)}] "
        f"(t over {len(splits)} splits, {len(splits) - 3} df), at equal target base top-1 "
        f"(its coefficient: {signed_pct(0.01 * base_coef)} per point of base top-1); by target "
        f"half: {', '.join(per_direction)}. Over the run's range of distances ({span:.3f}): "
        f"{signed_pct(slope * span)} [{signed_pct(low * span)}, {signed_pct(high * span)}]; in "
        f"points {points(fits['points'][0] * span)} [{points(fits['points'][1][0] * span)}, "
        f"{points(fits['points'][1][1] * span)}]"
    )
    measured = Measured(splits["points"], splits["gain"], splits["error"])

    def scaled(scale: str) -> tuple[float, tuple[float, float]]:
        b, (lo, hi), _ = fits[scale]
        return b * span, (lo * span, hi * span)

    return Measurement(
        measured,
        len(cells),
        result,
        tuple(claim.ns),
        cis=(scaled("points")[1], scaled("gain")[1]),
        effects=(scaled("points")[0], scaled("gain")[0]),
        error=scaled("error"),
    )


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
