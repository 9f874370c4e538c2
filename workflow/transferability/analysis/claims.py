"""Check the paper's claims against the tidy results table (one row per net).

Every claim becomes a `Claim`: one number per independent unit, the mean over units (the
effect), a Student-t 95% interval over the units, and a verdict against a practical margin
stated in MARGINS. Table selection lives in nets.py, intervals in stats.py, the Markdown
report in claims_report.py; the names figures.py and report_tables.py use are re-exported here.

Units. A cell's top-1 carries the training noise of the base net it is compared with and of
the base it copied its layers from. BnB, BnB+ and random cells touch only their own half's
base, so their unit is that base net (split, target, seed). AnB and AnB+ on target B copy
from baseA and are compared with baseB, and the other direction the other way round: both
directions share both bases, so any claim using them resamples (split, seed) groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from ..treatments import OTHER, REGISTRY
from .nets import (
    BASE_KEYS,
    COLUMNS,
    DISPLAY_NAMES,
    NET_KEYS,
    TREATMENT_ORDER,
    excluded_nets,
    normalise,
    pair_with_base,
    usable_nets,
)
from .stats import CI_LEVEL, MIN_UNITS, bootstrap_mean, t_interval, welch_interval

__all__ = [  # re-exported for figures.py, report_tables.py and older callers
    "BASE_KEYS",
    "COLUMNS",
    "DISPLAY_NAMES",
    "NET_KEYS",
    "TREATMENT_ORDER",
    "CI_LEVEL",
    "MIN_UNITS",
    "bootstrap_mean",
    "excluded_nets",
    "normalise",
    "pair_with_base",
    "usable_nets",
]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"

LOW_END_N = (1, 2)
MID_N = (3, 4, 5)
HIGH_END_N = (6, 7)
HIGH_N_MIN = 5  # "high n" for the specificity claims: the paper's fc layers and conv5
ALL_N = tuple(range(1, 8))
HIGH_N = tuple(range(HIGH_N_MIN, 8))
RANDOM_N_MIN = 3  # the paper: random frozen layers are "near chance from n=3"
# A base within 1 point of chance makes (top1 - chance) / (base - chance) explode, so such
# units are dropped from the normalised-accuracy claim.
MIN_BASE_ABOVE_CHANCE = 0.01

# ------------------------------------------------------------------------------------
# Units of resampling

# Treatments whose copied layers come from the other half's base net.
CROSS_HALF = frozenset(t.name for t in REGISTRY if t.copies_from == OTHER)
SPLIT_SEED = ("split", "seed")
BASE_NET = tuple(BASE_KEYS)
# The base net a cell copies from. A within-target difference of AnB cells (n high minus n
# low) does not depend on the target's own base, which cancels; it depends on the one
# base they all copy from, so those cells form the unit, and the two directions of a
# split are two units built on two independently trained bases.
SOURCE_BASE = ("split", "source", "seed")


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
    return "base net (split, target, seed) with all cells compared with it"


def _labels(cells: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    return cells[list(keys)].astype(str).agg("/".join, axis=1)


def _per_unit(values: pd.Series, cells: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """One number per unit: the mean of `values` over the unit's cells."""
    if cells.empty:
        return pd.Series(dtype=float)
    return values.groupby(_labels(cells, keys)).mean().sort_index()


def units(
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
    return {label: group for label, group in cells.groupby(_labels(cells, keys), sort=True)}


# ------------------------------------------------------------------------------------
# Margins: what the paper would call its effect


@dataclass(frozen=True)
class Margin:
    """A claim is reproduced iff its whole interval lies past `threshold` on the paper's side
    (`above`, `below`, or for a match `within` ±threshold); not reproduced iff the whole
    interval lies on the other side; inconclusive otherwise."""

    threshold: float
    side: str
    reason: str
    scale: str = "points of top-1"

    def verdict(self, ci: tuple[float, float]) -> str:
        low, high = ci
        if np.isnan(low) or np.isnan(high):
            return INCONCLUSIVE
        t = self.threshold
        if self.side == "within":
            if -t <= low and high <= t:
                return REPRODUCED
            return NOT_REPRODUCED if high < -t or low > t else INCONCLUSIVE
        past, short = (low > t, high < t) if self.side == "above" else (high < t, low > t)
        return REPRODUCED if past else NOT_REPRODUCED if short else INCONCLUSIVE

    def text(self) -> str:
        if self.side == "within":
            return f"within ±{100 * self.threshold:.1f} {self.scale}"
        if self.scale.startswith("of "):  # a fraction, not a difference
            return f"{self.side} {100 * self.threshold:.0f}% {self.scale}"
        return f"{self.side} {100 * self.threshold:+.1f} {self.scale}"


# One rule for the effects the paper measures: a third of the paper's own value of the same
# measure, rounded to the nearest half point. "Reproduced" then means "confidently at least a
# third of what the paper saw" (a small-scale run may well show a smaller effect of the same
# kind); "not reproduced" means "confidently less than that, or reversed".
MARGINS: dict[str, Margin] = {
    "selffer_low_n_matches_base": Margin(
        0.01,
        "within",
        "The paper reads BnB .627/.624 against base .625 as 'as well as'. The smallest effect "
        "it interprets is the AnB+ boost over BnB+ (+1.4 points, Table 1), so a gap whose "
        "interval stays within 1 point is smaller than anything the paper calls an effect.",
    ),
    "selffer_dip": Margin(
        -0.005,
        "below",
        "The paper's dip, mid (n=3..5) minus ends, is -1.7 points; a third of it, rounded: "
        "-0.5 points.",
    ),
    "transfer_declines_with_n": Margin(
        -0.02,
        "below",
        "The paper's decline on this measure (n=5..7 minus n=1,2, relative to the base) is "
        "-5.9 points; a third of it, rounded: -2.0 points. It is also past the ±1 point that "
        "the match claim counts as no difference.",
    ),
    "transfer_ft_boost": Margin(
        0.005,
        "above",
        "Table 1, n=1..7: +1.6 points over the base, +1.4 over BnB+; a third of either, "
        "rounded: +0.5 points. Both AnB+ - base and AnB+ - BnB+ must pass it.",
    ),
    "transfer_ft_boost_high_n": Margin(
        0.005,
        "above",
        "Table 1, n=5..7: +2.1 points over the base, +1.7 over BnB+; a third of the smaller "
        "(the control), rounded: +0.5 points. Both measures must pass it.",
    ),
    "dissimilar_drops_more": Margin(
        -0.055,
        "below",
        "The paper's relative drops at n=7 are -8% (random) and -25% (dissimilar): a "
        "difference of -17 points; a third of it, rounded: -5.5 points.",
        scale="points of relative drop",
    ),
    "random_toward_chance": Margin(
        0.5,
        "below",
        "The paper gives no number for 'near chance' (its random nets at n>=3 are close to "
        "0.2% on 500 classes). Keeping less than half of the base's above-chance accuracy is "
        "the weakest reading that still means most of the signal is gone.",
        scale="of the base's above-chance accuracy kept",
    ),
}


# ------------------------------------------------------------------------------------
# Claims


@dataclass(frozen=True)
class Claim:
    name: str
    statement: str
    paper_value: str
    paper_effect: float  # the paper's value of this same measure; nan: not reported
    effect: float  # mean over units
    ci_low: float
    ci_high: float
    control: str  # a second measure the verdict also needs ("" if none)
    paper_control_effect: float
    control_effect: float
    control_ci_low: float
    control_ci_high: float
    margin: str
    unit: str
    n_units: int
    n_nets: int
    verdict: str
    detail: str


NAN_CI = (float("nan"), float("nan"))


@dataclass(frozen=True)
class _Spec:
    name: str
    statement: str
    paper_value: str
    treatments: tuple[str, ...]  # every cell treatment the claim reads (bases always)
    paper_effect: float = float("nan")
    control: str = ""
    paper_control_effect: float = float("nan")
    unit: tuple[str, ...] = ()  # the unit where the treatments' default is too coarse

    @property
    def keys(self) -> tuple[str, ...]:
        return self.unit or unit_keys(self.treatments)

    @property
    def margin(self) -> Margin:
        return MARGINS[self.name]

    def make(
        self,
        per_unit: pd.Series,
        ci: tuple[float, float],
        n_nets: int,
        verdict: str,
        detail: str,
        control: tuple[float, tuple[float, float]] = (float("nan"), NAN_CI),
        effect: float | None = None,
    ) -> Claim:
        return Claim(
            name=self.name,
            statement=self.statement,
            paper_value=self.paper_value,
            paper_effect=self.paper_effect,
            effect=float(per_unit.mean()) if effect is None else effect,
            ci_low=ci[0],
            ci_high=ci[1],
            control=self.control,
            paper_control_effect=self.paper_control_effect,
            control_effect=control[0],
            control_ci_low=control[1][0],
            control_ci_high=control[1][1],
            margin=self.margin.text(),
            unit=" × ".join(self.keys),
            n_units=len(per_unit),
            n_nets=n_nets,
            verdict=verdict,
            detail=detail,
        )

    def no_data(self, why: str, note: str = "") -> Claim:
        detail = f"No data: {why}. Unit: {unit_name(self.keys)}.{note}"
        return self.make(pd.Series(dtype=float), NAN_CI, 0, INCONCLUSIVE, detail)


# ------------------------------------------------------------------------------------
# Formatting shared with the report


def pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}%"


def signed_pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:+.1f}%"


def ci_text(ci: tuple[float, float], k: int) -> str:
    if any(pd.isna(v) for v in ci):
        return f"no interval ({k} unit(s); at least {MIN_UNITS} needed)"
    return f"95% CI [{signed_pct(ci[0])}, {signed_pct(ci[1])}] (t over {k} units)"


def _ns(ns: Iterable[int]) -> str:
    return ",".join(str(n) for n in sorted(set(ns)))


def _excluded_note(df: pd.DataFrame, treatments: Iterable[str], split_kind: str | None) -> str:
    """How many nets of the treatments a claim uses (and their bases) were left out, by status."""
    bad = excluded_nets(df)
    bad = bad[bad["treatment"].isin([*treatments, "base"])]
    if split_kind is not None:
        bad = bad[bad["split_kind"] == split_kind]
    if bad.empty:
        return ""
    counts = ", ".join(f"{n} {status}" for status, n in bad["status"].value_counts().items())
    return f" Excluded (not trained) nets of these treatments or their bases: {counts}."


def _judge(
    spec: _Spec,
    measure: str,
    per_unit: pd.Series,
    n_nets: int,
    note: str,
) -> Claim:
    """Effect, t interval over units and verdict for a one-sample claim."""
    ci = t_interval(per_unit.to_numpy())
    detail = (
        f"{measure}. Unit: {unit_name(spec.keys)}; {len(per_unit)} units, {n_nets} nets: "
        f"{signed_pct(per_unit.mean())}, {ci_text(ci, len(per_unit))}. Reproduced needs the "
        f"CI {spec.margin.text()}, not reproduced needs it entirely on the other side.{note}"
    )
    return spec.make(per_unit, ci, n_nets, spec.margin.verdict(ci), detail)


_SELFFER_MATCH = _Spec(
    "selffer_low_n_matches_base",
    "Selffer nets BnB chopped at n=1 or 2 perform as well as their base net.",
    "BnB .627/.624 vs base .625 at n=1/2 (+0.2%, -0.1%)",
    ("selffer",),
    0.6255 - 0.625,  # mean of BnB at n=1,2 minus base, from the paper's per-layer means
)


def claim_selffer_low_n_matches_base(df: pd.DataFrame) -> Claim:
    spec = _SELFFER_MATCH
    note = _excluded_note(df, spec.treatments, None)
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "selffer") & paired["n"].isin(LOW_END_N)]
    if cells.empty:
        return spec.no_data("no trained BnB net at n=1 or 2 with a trained base", note)
    per_unit = _per_unit(cells["top1"] - cells["base_top1"], cells, spec.keys)
    measure = f"Per unit, mean of BnB - own base at n={_ns(cells['n'])} (all splits)"
    return _judge(spec, measure, per_unit, len(cells), note)


_SELFFER_DIP = _Spec(
    "selffer_dip",
    "Selffer nets BnB lose accuracy when chopped in the middle layers (n=3..5) compared with "
    "the ends (n=1,2 and 6,7): fragile co-adaptation of neighbouring layers.",
    "BnB mid .607 vs ends .623 (-1.7%); lowest .594 at n=5",
    ("selffer",),
    (0.621 + 0.605 + 0.594) / 3 - ((0.627 + 0.624) / 2 + (0.619 + 0.623) / 2) / 2,
)


def _dip(unit: pd.DataFrame) -> float:
    """Mid minus ends; needs both ends, or a monotone slope would pass for a dip."""
    by_n = unit.groupby("n")["top1"].mean()
    low, mid, high = (by_n[by_n.index.isin(ns)] for ns in (LOW_END_N, MID_N, HIGH_END_N))
    if low.empty or mid.empty or high.empty:
        return float("nan")
    return float(mid.mean() - (low.mean() + high.mean()) / 2)


def claim_selffer_dip(df: pd.DataFrame) -> Claim:
    spec = _SELFFER_DIP
    note = _excluded_note(df, spec.treatments, None)
    groups = units(df, spec.treatments)
    dips = pd.Series({label: _dip(unit) for label, unit in groups.items()}, dtype=float)
    dips = dips.dropna()
    if dips.empty:
        return spec.no_data(
            "no base net has BnB nets at a low end (n=1,2), the middle (n=3..5) and a high "
            "end (n=6,7)",
            note,
        )
    n_nets = sum(len(groups[label]) for label in dips.index)
    measure = "Per unit, mean BnB top-1 at n=3..5 minus the mean of the n=1,2 and n=6,7 means"
    return _judge(spec, measure, dips, n_nets, note)


_TRANSFER_DECLINE = _Spec(
    "transfer_declines_with_n",
    "Transfer nets AnB get worse the more frozen layers come from the other half "
    "(features become specific to their task in the higher layers).",
    "AnB .628 at n=1 to .543 at n=7 (-8.5%); this measure (n=5..7 minus n=1,2) from the "
    "paper's per-layer means: -5.9%",
    ("transfer",),
    (0.578 + 0.581 + 0.543) / 3 - (0.628 + 0.624) / 2,
    unit=SOURCE_BASE,
)


def _decline(unit: pd.DataFrame) -> float:
    diff = unit["top1"] - unit["base_top1"]
    low, high = diff[unit["n"].isin(LOW_END_N)], diff[unit["n"] >= HIGH_N_MIN]
    return float(high.mean() - low.mean()) if len(low) and len(high) else float("nan")


def claim_transfer_declines_with_n(df: pd.DataFrame) -> Claim:
    spec = _TRANSFER_DECLINE
    note = _excluded_note(df, spec.treatments, "random")
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "transfer") & (paired["split_kind"] == "random")]
    per_unit = pd.Series(
        {label: _decline(unit) for label, unit in cells.groupby(_labels(cells, spec.keys))}
        if len(cells)
        else {},
        dtype=float,
    ).dropna()
    if per_unit.empty:
        return spec.no_data(
            f"no source base net on a random split has AnB nets with a trained base at both "
            f"n=1,2 and n>={HIGH_N_MIN}",
            note,
        )
    used = _labels(cells, spec.keys).isin(per_unit.index)
    measure = (
        f"Per unit, mean AnB - own base at n>={HIGH_N_MIN} minus the same at n=1,2 "
        "(random splits; the target's own base cancels)"
    )
    return _judge(spec, measure, per_unit, int(used.sum()), note)


_TRANSFER_FT_BOOST = _Spec(
    "transfer_ft_boost",
    "Transfer nets fine-tuned on the target (AnB+) beat both the base net and the fine-tuned "
    "selffers BnB+ (the control for longer training): a lingering boost to generalisation "
    "from the transferred features.",
    "Table 1, n=1..7: +1.6% over baseB, +1.4% over BnB+",
    ("transfer_ft", "selffer_ft"),
    0.016,
    control="AnB+ - BnB+",
    paper_control_effect=0.014,
)
_TRANSFER_FT_BOOST_HIGH = _Spec(
    "transfer_ft_boost_high_n",
    f"AnB+ nets chopped high (n={HIGH_N_MIN}..7, most layers transferred) beat both their base "
    "and BnB+; the paper saw its largest boost there.",
    f"Table 1, n={HIGH_N_MIN}..7: +2.1% over baseB, +1.7% over BnB+",
    ("transfer_ft", "selffer_ft"),
    0.021,
    control="AnB+ - BnB+",
    paper_control_effect=0.017,
)
# The paper's Table 1 (mean boost of AnB+ over baseB / over BnB+): n=1..7 +1.6/+1.4,
# n=3..7 +1.8/+1.4, n=5..7 +2.1/+1.7.


def _boost_verdict(margin: Margin, ci: tuple[float, float], control_ci: tuple[float, float]):
    """The paper claims AnB+ beats the base AND BnB+: reproduced only if both do past the
    margin; not reproduced as soon as either confidently falls short."""
    verdicts = {margin.verdict(ci), margin.verdict(control_ci)}
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if verdicts == {REPRODUCED} else INCONCLUSIVE


def _boost(df: pd.DataFrame, spec: _Spec, ns: Sequence[int]) -> Claim:
    note = _excluded_note(df, spec.treatments, "random")
    paired = pair_with_base(df)
    cells = paired[
        (paired["treatment"] == "transfer_ft")
        & (paired["split_kind"] == "random")
        & paired["n"].isin(ns)
    ]
    if cells.empty:
        return spec.no_data(
            f"no trained AnB+ net at n={_ns(ns)} with a trained base on random splits", note
        )
    per_unit = _per_unit(cells["top1"] - cells["base_top1"], cells, spec.keys)
    ci = t_interval(per_unit.to_numpy())

    # The control pairs each AnB+ with the BnB+ of the same target, split, seed and n.
    nets = usable_nets(df)
    bnb_ft = nets[nets["treatment"] == "selffer_ft"][[*BASE_KEYS, "n", "top1"]]
    bnb_ft = bnb_ft.groupby([*BASE_KEYS, "n"], as_index=False)["top1"].mean()
    matched = cells.merge(bnb_ft, on=[*BASE_KEYS, "n"], suffixes=("", "_control"))
    control = _per_unit(matched["top1"] - matched["top1_control"], matched, spec.keys)
    control_ci = t_interval(control.to_numpy())
    control_text = (
        f"{signed_pct(control.mean())}, {ci_text(control_ci, len(control))} "
        f"({len(matched)} AnB+/BnB+ pairs of the same target, seed and n)"
        if len(control)
        else "no BnB+ nets to compare with"
    )
    detail = (
        f"Per unit, mean AnB+ - own base at n={_ns(cells['n'])} (random splits). Unit: "
        f"{unit_name(spec.keys)}; {len(per_unit)} units, {len(cells)} nets: "
        f"{signed_pct(per_unit.mean())}, {ci_text(ci, len(per_unit))}. Control, AnB+ - BnB+: "
        f"{control_text}. Reproduced needs both CIs {spec.margin.text()}; not reproduced "
        f"needs either entirely below it.{note}"
    )
    verdict = _boost_verdict(spec.margin, ci, control_ci)
    control_pair = (float(control.mean()) if len(control) else float("nan"), control_ci)
    return spec.make(per_unit, ci, len(cells), verdict, detail, control=control_pair)


def claim_transfer_ft_boost(df: pd.DataFrame) -> Claim:
    return _boost(df, _TRANSFER_FT_BOOST, ALL_N)


def claim_transfer_ft_boost_high_n(df: pd.DataFrame) -> Claim:
    return _boost(df, _TRANSFER_FT_BOOST_HIGH, HIGH_N)


_DISSIMILAR = _Spec(
    "dissimilar_drops_more",
    "Transfer AnB at high n loses more, relative to the base, when the halves are dissimilar "
    "(man-made vs natural) than when they are random: transferability falls as tasks drift apart.",
    "-8% random vs -25% dissimilar at n=7 (difference -17%; n=5,6 not reported)",
    ("transfer",),
    -0.17,
)


def claim_dissimilar_drops_more(df: pd.DataFrame) -> Claim:
    spec = _DISSIMILAR
    note = _excluded_note(df, spec.treatments, None)
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "transfer") & (paired["n"] >= HIGH_N_MIN)]
    kind = cells["split_kind"]
    # Compare the two kinds at the same n, otherwise a deeper n on one side fakes a bigger drop.
    ns = sorted(set(cells.loc[kind == "random", "n"]) & set(cells.loc[kind == "dissimilar", "n"]))
    if not ns:
        return spec.no_data(
            f"needs AnB nets with a trained base at a common n>={HIGH_N_MIN} on both random "
            "and dissimilar splits",
            note,
        )
    cells = cells[cells["n"].isin(ns)]
    rel = (cells["top1"] - cells["base_top1"]) / cells["base_top1"]
    is_dis = cells["split_kind"] == "dissimilar"
    dis = _per_unit(rel[is_dis], cells[is_dis], spec.keys)
    rnd = _per_unit(rel[~is_dis], cells[~is_dis], spec.keys)
    ci = welch_interval(dis.to_numpy(), rnd.to_numpy())
    effect = float(dis.mean() - rnd.mean())
    if np.isnan(ci[0]):
        interval = (
            f"no interval ({len(dis)} dissimilar and {len(rnd)} random units; at least "
            f"{MIN_UNITS} needed on each side)"
        )
    else:
        interval = (
            f"95% CI [{signed_pct(ci[0])}, {signed_pct(ci[1])}] (Welch, {len(dis)} dissimilar "
            f"vs {len(rnd)} random units)"
        )
    detail = (
        f"Per unit, mean relative drop (AnB - base) / base at n={_ns(ns)}. Unit: "
        f"{unit_name(spec.keys)}. Dissimilar {signed_pct(dis.mean())} ({len(dis)} units, "
        f"{int(is_dis.sum())} nets) minus random {signed_pct(rnd.mean())} ({len(rnd)} units, "
        f"{int((~is_dis).sum())} nets): {signed_pct(effect)}, {interval}. Reproduced needs the "
        f"CI {spec.margin.text()}, not reproduced needs it entirely on the other side.{note}"
    )
    per_unit = pd.concat([dis, rnd])
    return spec.make(per_unit, ci, len(cells), spec.margin.verdict(ci), detail, effect=effect)


_RANDOM = _Spec(
    "random_toward_chance",
    f"Frozen random layers RnB leave the net near chance from n={RANDOM_N_MIN} on.",
    "fine at n=1, worse at n=2, near chance from n=3 (no number: not reported)",
    ("random",),
)


def claim_random_toward_chance(df: pd.DataFrame) -> Claim:
    spec = _RANDOM
    note = _excluded_note(df, spec.treatments, None)
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "random") & (paired["n"] >= RANDOM_N_MIN)]
    cells = cells[cells["base_top1"] - cells["chance"] >= MIN_BASE_ABOVE_CHANCE]
    if cells.empty:
        return spec.no_data(
            f"no trained random-frozen net at n>={RANDOM_N_MIN} with a trained base above chance",
            note,
        )
    norm = (cells["top1"] - cells["chance"]) / (cells["base_top1"] - cells["chance"])
    per_unit = _per_unit(norm, cells, spec.keys)
    ci = t_interval(per_unit.to_numpy())
    ci_str = (
        f"95% CI [{pct(ci[0])}, {pct(ci[1])}] (t over {len(per_unit)} units)"
        if not np.isnan(ci[0])
        else ci_text(ci, len(per_unit))
    )
    detail = (
        f"Per unit, mean normalised accuracy (top1 - chance) / (base - chance) at "
        f"n={_ns(cells['n'])}, all splits (1 = as good as the base, 0 = chance). Unit: "
        f"{unit_name(spec.keys)}; {len(per_unit)} units, {len(cells)} nets: "
        f"{pct(per_unit.mean())} kept, {ci_str}. Reproduced needs the CI below "
        f"{pct(spec.margin.threshold)} kept, not reproduced needs it entirely above.{note}"
    )
    return spec.make(per_unit, ci, len(cells), spec.margin.verdict(ci), detail)


CLAIM_FUNCTIONS: tuple[Callable[[pd.DataFrame], Claim], ...] = (
    claim_selffer_low_n_matches_base,
    claim_selffer_dip,
    claim_transfer_declines_with_n,
    claim_transfer_ft_boost,
    claim_transfer_ft_boost_high_n,
    claim_dissimilar_drops_more,
    claim_random_toward_chance,
)
SPECS: dict[str, _Spec] = {
    s.name: s
    for s in (
        _SELFFER_MATCH,
        _SELFFER_DIP,
        _TRANSFER_DECLINE,
        _TRANSFER_FT_BOOST,
        _TRANSFER_FT_BOOST_HIGH,
        _DISSIMILAR,
        _RANDOM,
    )
}
# The treatments each claim reads; the test of independent units builds units from these.
CLAIM_TREATMENTS: dict[str, tuple[str, ...]] = {n: s.treatments for n, s in SPECS.items()}
CLAIM_UNITS: dict[str, tuple[str, ...]] = {n: s.keys for n, s in SPECS.items()}


def all_claims(df: pd.DataFrame) -> list[Claim]:
    return [claim(df) for claim in CLAIM_FUNCTIONS]


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in claims], columns=[f.name for f in fields(Claim)])
