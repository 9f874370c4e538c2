"""The paper's claims, each declared once in REGISTRY, and how a verdict is reached.

A `ClaimSpec` holds everything about one claim: what the paper says and measured, its short
label (README's verdict table), the treatments it reads and its unit of resampling, its
measure (measures.py), the margin a verdict is judged against and why. `evaluate` turns an
entry and the results table into a `Claim`: the effect (mean over units), a 95% interval over
the units, and a verdict against the margin. Adding a claim is one entry here and its measure.

Effects are measured in points of top-1 and, for the verdict, as a share of the base net's
accuracy above chance (`gain`): the paper's 1.6-point boost on a 500-class problem at 62.5% is
2.6% of its base's gain over chance, a scale that travels to a 5-class problem at 90%
(docs/claims.md). Units are in units.py, intervals in stats.py, the convergence check in
convergence.py, the Markdown report in claims_report.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd

from .. import treatments as treatments_registry
from ..treatments import BASE, RANDOM, RANDOM_PAPER, SELFFER, SELFFER_FT, TRANSFER, TRANSFER_FT
from . import convergence, measures
from .layer_sets import HIGH_N, HIGH_N_MIN, RANDOM_N_MIN
from .measured import (
    NAN,
    NAN_CI,
    Interval,
    Measured,
    Measurement,
    interval_text,
    ns_text,
    pct,
    points,
    signed_pct,
)
from .nets import excluded_nets, usable_nets
from .units import SPLIT, unit_keys, unit_name

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_JUDGED = "not judged"  # a claim the convergence check says is confounded

# The paper's baseB top-1 above chance (500 classes): its effects in points divided by this
# are its effects as a share of the base's gain over chance, the scale verdicts use.
PAPER_GAIN = 0.625 - 1 / 500
# Its error, 1 - top-1: the error scale, shown beside the gain scale. A 5-class net at 94%
# has a gain of 0.74 and an error of 0.06, so the same points weigh 12x more on this scale.
PAPER_ERROR = 1 - 0.625


@dataclass(frozen=True)
class Margin:
    """A claim is reproduced iff its whole interval lies past `threshold` on the paper's side
    (`above`, `below`, or for a match `within` ±threshold); not reproduced iff the whole
    interval lies on the other side; inconclusive otherwise. Thresholds are on the scale
    verdicts use: a share of the base's top-1 above chance."""

    threshold: float
    side: str
    reason: str
    scale: str = "of the base's gain over chance"

    def verdict(self, ci: Interval) -> str:
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

    def on_error_scale(self) -> Margin | None:
        """The same margin on the error scale: the paper's points at its base's error
        (a third of the paper's effect there, as on the gain scale); None for a share kept."""
        if self.scale.endswith("kept"):
            return None
        threshold = self.threshold * PAPER_GAIN / PAPER_ERROR
        return replace(self, threshold=threshold, scale="of the base's error")

    def text(self) -> str:
        if self.side == "within":
            return f"within ±{100 * self.threshold:.2f}% {self.scale}"
        if self.scale.endswith("kept"):  # a share kept, not a difference
            return f"{self.side} {100 * self.threshold:.0f}% {self.scale}"
        return f"{self.side} {100 * self.threshold:+.2f}% {self.scale}"


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the paper, and how this workflow checks it: a registry entry."""

    name: str
    label: str  # the claim in a few words, for README's verdict table
    statement: str
    paper_value: str
    treatments: tuple[str, ...]  # every cell treatment the measure reads (bases always)
    measure: Callable[[pd.DataFrame, ClaimSpec], Measurement]
    how: str  # how it is measured: the detail's first words ("{ns}": the n measured)
    margin: Margin
    paper_effect: float = NAN  # the paper's value of this measure in points; nan: not reported
    paper_gain: float | None = None  # the paper's value on the gain scale, if not derived
    control: str = ""  # a second measure the verdict also needs ("" if none)
    paper_control_effect: float = NAN
    unit: tuple[str, ...] = ()  # the unit where the treatments' default is too coarse
    ns: tuple[int, ...] = ()  # the layers its measure reads, where the registry picks them
    ns_reason: str = ""  # why those layers
    split_kind: str | None = None  # the split kind it reads, if one: for the excluded nets
    # Effects of 1-2 points that under-trained base nets fake ("more training"): judged only
    # when the convergence check passes.
    confounded: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return self.unit or unit_keys(self.treatments)

    @property
    def paper_gain_effect(self) -> float:
        if self.paper_gain is not None:
            return self.paper_gain
        return NAN if np.isnan(self.paper_effect) else self.paper_effect / PAPER_GAIN

    @property
    def paper_error_effect(self) -> float:
        return self.paper_gain_effect * PAPER_GAIN / PAPER_ERROR

    def verdict(
        self, gain_ci: Interval, control_gain_ci: Interval = NAN_CI, margin: Margin | None = None
    ) -> str:
        """On the gain scale (or `margin`'s). With a control the paper claims both measures
        pass the margin: reproduced only if both do; not reproduced as soon as either
        confidently falls short."""
        margin = margin or self.margin
        if not self.control:
            return margin.verdict(gain_ci)
        verdicts = {margin.verdict(gain_ci), margin.verdict(control_gain_ci)}
        if NOT_REPRODUCED in verdicts:
            return NOT_REPRODUCED
        return REPRODUCED if verdicts == {REPRODUCED} else INCONCLUSIVE

    def needs(self) -> str:
        """What each verdict needs, in the words every claim's detail uses."""
        ci, other = ("both CIs", "either") if self.control else ("the CI", "it")
        return (
            f"Reproduced needs {ci} {self.margin.text()}, not reproduced needs {other} "
            "entirely on the other side."
        )


_KEPT_HOW = (
    "Per unit, mean share of the base's gain over chance kept, (top1 - chance) / (base - "
    "chance), at n={ns}, all splits (1 = as good as the base, 0 = chance)"
)

# One rule for the margins of the effects the paper measures: a third of the paper's own
# value of the same measure on the gain scale, rounded to the nearest quarter percent.
# "Reproduced" then means "confidently at least a third of what the paper saw" (a small-scale
# run may well show a smaller effect of the same kind); "not reproduced" means "confidently
# less, or reversed". The order is claims.md's and README's.
REGISTRY: tuple[ClaimSpec, ...] = (
    ClaimSpec(
        "selffer_low_n_matches_base",
        "BnB ≈ base at n = 1, 2",
        "Selffer nets BnB chopped at n=1 or 2 perform as well as their base net.",
        "BnB .627/.624 vs base .625 at n=1/2 (+0.2%, -0.1%)",
        (SELFFER,),
        measures.selffer_low_n,
        "Per unit, mean of BnB - own base at n={ns} (all splits)",
        Margin(
            0.015,
            "within",
            "The paper reads BnB .627/.624 against base .625 as 'as well as'. The smallest "
            "effect it interprets is the AnB+ boost over BnB+ (+1.4 points, Table 1); 1 point, "
            "below anything it calls an effect, is 1.6% of its base's 62.3-point gain over "
            "chance: rounded, ±1.5%.",
        ),
        paper_effect=0.6255 - 0.625,  # mean of BnB at n=1,2 minus base, per-layer means
        confounded=True,
    ),
    ClaimSpec(
        "selffer_dip",
        "BnB dips at n = 3–5 (co-adaptation)",
        "Selffer nets BnB lose accuracy when chopped in the middle layers (n=3..5) compared "
        "with the ends (n=1,2 and 6,7): fragile co-adaptation of neighbouring layers.",
        "BnB mid .607 vs ends .623 (-1.7%); lowest .594 at n=5",
        (SELFFER,),
        measures.selffer_dip,
        "Per unit, mean BnB top-1 at n=3..5 minus the mean of the n=1,2 and n=6,7 means",
        Margin(
            -0.01,
            "below",
            "The paper's dip, mid (n=3..5) minus ends, is -1.7 points = -2.7% of its base's "
            "gain over chance; a third of it, rounded: -1.0%.",
        ),
        paper_effect=(0.621 + 0.605 + 0.594) / 3 - ((0.627 + 0.624) / 2 + (0.619 + 0.623) / 2) / 2,
        confounded=True,
    ),
    ClaimSpec(
        "transfer_declines_with_n",
        "AnB falls with n (n 5–7 vs 1–2)",
        "Transfer nets AnB get worse the more frozen layers come from the other half "
        "(features become specific to their task in the higher layers).",
        "AnB .628 at n=1 to .543 at n=7 (-8.5%); this measure (n=5..7 minus n=1,2) from the "
        "paper's per-layer means: -5.9%",
        (TRANSFER,),
        measures.transfer_decline,
        f"Per unit, mean AnB - own base at n>={HIGH_N_MIN} minus the same at n=1,2 (random "
        "splits; the target's own base cancels)",
        Margin(
            -0.0325,
            "below",
            "The paper's decline on this measure (n=5..7 minus n=1,2, relative to the base) is "
            "-5.9 points = -9.5% of its base's gain over chance; a third of it, rounded: "
            "-3.25%.",
        ),
        paper_effect=(0.578 + 0.581 + 0.543) / 3 - (0.628 + 0.624) / 2,
        unit=SPLIT,
        split_kind="random",
    ),
    # The paper's Table 1 (mean boost of AnB+ over baseB / over BnB+): n=1..7 +1.6/+1.4,
    # n=3..7 +1.8/+1.4, n=5..7 +2.1/+1.7.
    ClaimSpec(
        "transfer_ft_boost",
        "AnB+ beats base and BnB+, n 1–7",
        "Transfer nets fine-tuned on the target (AnB+) beat both the base net and the "
        "fine-tuned selffers BnB+ (the control for longer training): a lingering boost to "
        "generalisation from the transferred features.",
        "Table 1, n=1..7: +1.6% over baseB, +1.4% over BnB+",
        (TRANSFER_FT, SELFFER_FT),
        measures.ft_boost,
        "Per unit, mean AnB+ - own base at n={ns} (random splits)",
        Margin(
            0.0075,
            "above",
            "Table 1, n=1..7: +1.6 points over the base, +1.4 over BnB+ = +2.6% and +2.2% of "
            "its base's gain over chance; a third of the smaller, rounded: +0.75%. Both AnB+ - "
            "base and AnB+ - BnB+ must pass it.",
        ),
        paper_effect=0.016,
        control="AnB+ - BnB+",
        paper_control_effect=0.014,
        split_kind="random",
        confounded=True,
    ),
    ClaimSpec(
        "transfer_ft_boost_high_n",
        "AnB+ beats base and BnB+, n 5–7",
        f"AnB+ nets chopped high (n={HIGH_N_MIN}..7, most layers transferred) beat both their "
        "base and BnB+; the paper saw its largest boost there.",
        f"Table 1, n={HIGH_N_MIN}..7: +2.1% over baseB, +1.7% over BnB+",
        (TRANSFER_FT, SELFFER_FT),
        measures.ft_boost_high_n,
        "Per unit, mean AnB+ - own base at n={ns} (random splits)",
        Margin(
            0.01,
            "above",
            "Table 1, n=5..7: +2.1 points over the base, +1.7 over BnB+ = +3.4% and +2.7% of "
            "its base's gain over chance; a third of the smaller (the control), rounded: "
            "+1.0%. Both measures must pass it.",
        ),
        paper_effect=0.021,
        control="AnB+ - BnB+",
        paper_control_effect=0.017,
        split_kind="random",
        confounded=True,
    ),
    ClaimSpec(
        "dissimilar_drops_more",
        "dissimilar partition drops more (n = 7)",
        "Transfer AnB at high n loses more, relative to the base, when the halves are "
        "dissimilar (man-made vs natural) than when they are random: transferability falls "
        "as tasks drift apart.",
        "-8% random vs -25% dissimilar at n=7 (difference -17%; n=5,6 not reported)",
        (TRANSFER,),
        measures.dissimilar_drop,
        "Per partition, mean drop (AnB - base) / (base - chance) at n={ns} over both "
        "directions and every seed",
        Margin(
            -0.0575,
            "below",
            "The paper's relative drops at n=7 are -8% (random) and -25% (dissimilar) of the "
            "base (at 500 classes, of its gain over chance too): a difference of -17%; a third "
            "of it, rounded: -5.75%.",
        ),
        paper_gain=-0.17,
        unit=SPLIT,
        ns=(7,),
        ns_reason="n = 7 as the paper: the only layer it reports for this comparison, so its "
        "-17% and the margin are defined there; the slope claims add n = 5-7",
    ),
    ClaimSpec(
        "transfer_falls_with_distance",
        "AnB drop grows with task distance (n = 7)",
        "Transferability falls as the tasks drift apart: the relative drop of AnB grows with "
        "the distance between the two halves' tasks, at equal difficulty of the target.",
        "-8% random vs -25% dissimilar at n=7 (two kinds of split; no distance measured)",
        (TRANSFER,),
        measures.distance_slope,
        "Per split, mean drop (AnB - base) / (base - chance) at n={ns} over both directions "
        "and every seed; least squares on the split's task distance (fc7 class means of a "
        "net on every class, before any transfer: docs/claims.md) and its targets' mean base "
        "top-1",
        Margin(
            -0.0575,
            "below",
            "The paper sees -17% between its random and its dissimilar split. Here the fit's "
            "drop across the run's range of distances (from the closest random split to the "
            "farthest split, the semantic partition) is judged against the two-group claim's "
            "margin, a third of -17%: -5.75%.",
        ),
        paper_gain=-0.17,
        unit=SPLIT,
        ns=(7,),
        ns_reason="n = 7 as the paper's comparison",
    ),
    ClaimSpec(
        "transfer_falls_with_distance_high_n",
        f"AnB drop grows with task distance (n = {HIGH_N_MIN}–7)",
        "As transfer_falls_with_distance, on the mean drop of the high layers: the paper's "
        "fc layers and conv5, where features are most specific.",
        "-8% random vs -25% dissimilar at n=7 (two kinds of split; no distance measured)",
        (TRANSFER,),
        measures.distance_slope,
        "Per split, mean drop (AnB - base) / (base - chance) at n={ns} over both directions "
        "and every seed; least squares on the split's task distance and its targets' mean "
        "base top-1",
        Margin(
            -0.0575,
            "below",
            "As for transfer_falls_with_distance: a third of the paper's -17%.",
        ),
        paper_gain=-0.17,
        unit=SPLIT,
        ns=HIGH_N,
        ns_reason="n = 5-7: three layers per split, less noise than n = 7 alone",
    ),
    ClaimSpec(
        "random_toward_chance",
        "random (He) layers near chance, n ≥ 3 (share kept)",
        f"Frozen random layers RnB leave the net near chance from n={RANDOM_N_MIN} on: "
        "He-initialised random layers (this workflow's init).",
        "fine at n=1, worse at n=2, near chance from n=3 (no number: not reported)",
        (RANDOM,),
        measures.share_kept,
        _KEPT_HOW,
        Margin(
            0.5,
            "below",
            "The paper gives no number for 'near chance' (its random nets at n>=3 are close "
            "to 0.2% on 500 classes). Keeping less than half of the base's above-chance "
            "accuracy is the weakest reading that still means most of the signal is gone.",
            scale="of the base's gain over chance kept",
        ),
    ),
    ClaimSpec(
        "random_paper_init_toward_chance",
        "random (paper init) layers near chance, n ≥ 3 (share kept)",
        f"Frozen random layers RnB leave the net near chance from n={RANDOM_N_MIN} on: random "
        "layers with the paper's own init (Caffe's Gaussians, constant biases).",
        "fine at n=1, worse at n=2, near chance from n=3 (no number: not reported)",
        (RANDOM_PAPER,),
        measures.share_kept,
        _KEPT_HOW,
        Margin(
            0.5,
            "below",
            "As for random_toward_chance: less than half of the base's gain over chance kept.",
            scale="of the base's gain over chance kept",
        ),
    ),
)
BY_NAME: dict[str, ClaimSpec] = {spec.name: spec for spec in REGISTRY}


@dataclass(frozen=True)
class Claim:
    """A claim checked against one results table (a row of claims.md)."""

    name: str
    statement: str
    paper_value: str
    paper_effect: float  # the paper's value of this measure in points; nan: not reported
    effect: float  # mean over units, points of top-1
    ci_low: float
    ci_high: float
    paper_gain_effect: float  # the paper's value as a share of its base's gain over chance
    gain_effect: float  # mean over units on that scale: what the verdict judges
    gain_ci_low: float
    gain_ci_high: float
    control: str  # a second measure the verdict also needs ("" if none)
    paper_control_effect: float
    control_effect: float
    control_ci_low: float
    control_ci_high: float
    control_gain_effect: float
    control_gain_ci_low: float
    control_gain_ci_high: float
    margin: str
    unit: str
    n_units: int
    n_nets: int
    verdict: str
    detail: str
    # The error scale, beside the verdict's: effects over the base's error (1 - top-1).
    paper_error_effect: float = NAN
    error_effect: float = NAN
    error_ci_low: float = NAN
    error_ci_high: float = NAN
    error_margin: str = ""
    error_verdict: str = ""  # the verdict the error scale would give ("" where none)
    scale_dependent: bool = False  # the two scales' verdicts differ
    bound: str = ""  # what a "not reproduced" excludes at 95%
    nets_recipe: str = ""  # the lr and init of the nets behind it


def _excluded_note(df: pd.DataFrame, treatments: Iterable[str], split_kind: str | None) -> str:
    """How many nets of the treatments a claim uses (and their bases) were left out, by status."""
    bad = excluded_nets(df)
    bad = bad[bad["treatment"].isin([*treatments, BASE])]
    if split_kind is not None:
        bad = bad[bad["split_kind"] == split_kind]
    if bad.empty:
        return ""
    counts = ", ".join(f"{n} {status}" for status, n in bad["status"].value_counts().items())
    return f" Excluded (not trained) nets of these treatments or their bases: {counts}."


def _recipe_text(df: pd.DataFrame, treatments: Iterable[str]) -> str:
    """The lr and the start of the first n layers of the cells a claim reads."""
    nets = usable_nets(df)
    parts = []
    for name in treatments:
        cells = nets[nets["treatment"] == name]
        if cells.empty:
            continue
        lrs = sorted(set(cells["recipe_lr"].dropna())) if "recipe_lr" in cells else []
        lr = "/".join(f"{v:g}" for v in lrs) or "not recorded"
        spec = treatments_registry.BY_NAME[name]
        start = (
            "copied from a base net"
            if spec.prefix == treatments_registry.COPIED
            else f"random ({'paper init' if spec.init == treatments_registry.CAFFE else 'He'})"
        )
        tuned = "fine-tuned" if spec.fine_tunes else "frozen"
        parts.append(f"{spec.label} at lr {lr}, first n layers {start}, {tuned}")
    return "; ".join(parts)


def _bound(spec: ClaimSpec, claim: dict) -> str:
    """What a "not reproduced" excludes: each measure that confidently fell short, with the
    bound of its interval in points (and on the verdict's scale)."""
    measures = [
        (
            "the effect",
            claim["ci_low"],
            claim["ci_high"],
            claim["gain_ci_low"],
            claim["gain_ci_high"],
        )
    ]
    if spec.control:
        measures.append(
            (
                spec.control,
                claim["control_ci_low"],
                claim["control_ci_high"],
                claim["control_gain_ci_low"],
                claim["control_gain_ci_high"],
            )
        )
    kept = spec.margin.scale.endswith("kept")
    texts = []
    for name, low, high, gain_low, gain_high in measures:
        if spec.margin.verdict((gain_low, gain_high)) != NOT_REPRODUCED:
            continue
        if kept:
            texts.append(f"{name} keeps more than {pct(gain_low)} of the base's gain at 95%")
        elif spec.margin.side == "above" or (spec.margin.side == "within" and gain_low > 0):
            texts.append(f"{name} < {points(high)} points ({signed_pct(gain_high)} gain) at 95%")
        else:
            texts.append(f"{name} > {points(low)} points ({signed_pct(gain_low)} gain) at 95%")
    return "; ".join(texts)


def evaluate(spec: ClaimSpec, df: pd.DataFrame) -> Claim:
    """The claim checked on `df`: its measure, the interval over units and the verdict on
    both scales (not yet gated by the convergence check: all_claims does that)."""
    note = _excluded_note(df, spec.treatments, spec.split_kind)
    found = spec.measure(df, spec)
    measured, control = found.measured, found.control or Measured.empty()
    ci, gain_ci = found.cis or measured.cis()
    c_ci, c_gain_ci = control.cis() if len(control) else (NAN_CI, NAN_CI)
    effect, gain = found.effects or (measured.points.mean(), measured.gain.mean())
    error_effect, error_ci = found.error or (measured.error_mean(), measured.error_ci())
    c_error_ci = control.error_ci() if len(control) else NAN_CI
    error_margin = spec.margin.on_error_scale()
    recipe = _recipe_text(df, spec.treatments)
    if found.no_data:
        verdict = error_verdict = INCONCLUSIVE
        detail = f"No data: {found.no_data}. Unit: {unit_name(spec.keys)}.{note}"
    else:
        verdict = spec.verdict(gain_ci, c_gain_ci)
        error_verdict = spec.verdict(error_ci, c_error_ci, error_margin) if error_margin else ""
        layers = f" ({spec.ns_reason})" if spec.ns_reason else ""
        detail = (
            f"{spec.how.format(ns=ns_text(found.ns))}{layers}{found.aside}. Unit: "
            f"{unit_name(spec.keys)}{found.result}. {spec.needs()}{note}"
        )
        if recipe:
            detail += f" Nets: {recipe}."
    scale_dependent = bool(error_verdict) and error_verdict != verdict
    if scale_dependent:
        detail += (
            f" **Scale-dependent:** on the error scale ({signed_pct(error_effect)} "
            f"{interval_text(error_ci)}, margin {error_margin.text()}) the verdict would be "
            f"{error_verdict}."
        )
    claim = dict(
        name=spec.name,
        statement=spec.statement,
        paper_value=spec.paper_value,
        paper_effect=spec.paper_effect,
        effect=float(effect) if len(measured) else NAN,
        ci_low=ci[0],
        ci_high=ci[1],
        paper_gain_effect=spec.paper_gain_effect,
        gain_effect=float(gain) if len(measured) else NAN,
        gain_ci_low=gain_ci[0],
        gain_ci_high=gain_ci[1],
        control=spec.control,
        paper_control_effect=spec.paper_control_effect,
        control_effect=float(control.points.mean()) if len(control) else NAN,
        control_ci_low=c_ci[0],
        control_ci_high=c_ci[1],
        control_gain_effect=float(control.gain.mean()) if len(control) else NAN,
        control_gain_ci_low=c_gain_ci[0],
        control_gain_ci_high=c_gain_ci[1],
        margin=spec.margin.text(),
        unit=" × ".join(spec.keys),
        n_units=len(measured),
        n_nets=found.n_nets,
        verdict=verdict,
        detail=detail,
        paper_error_effect=spec.paper_error_effect if error_margin else NAN,
        error_effect=float(error_effect) if len(measured) and error_margin else NAN,
        error_ci_low=error_ci[0] if error_margin else NAN,
        error_ci_high=error_ci[1] if error_margin else NAN,
        error_margin=error_margin.text() if error_margin else "",
        error_verdict=error_verdict,
        scale_dependent=scale_dependent,
        nets_recipe=recipe,
    )
    claim["bound"] = _bound(spec, claim) if verdict == NOT_REPRODUCED else ""
    if claim["bound"]:
        claim["detail"] += f" Not reproduced: it excludes {claim['bound']}."
    return Claim(**claim)


def all_claims(df: pd.DataFrame, check: convergence.Convergence | None = None) -> list[Claim]:
    """Every claim of the registry, in its order; a confounded claim is not judged when the
    convergence check does not pass."""
    check = check or convergence.check(df)
    claims = []
    for spec in REGISTRY:
        claim = evaluate(spec, df)
        if spec.confounded and not check.passed and claim.n_nets:
            claim = replace(
                claim, verdict=NOT_JUDGED, detail=f"Not judged: {check.reason()}. {claim.detail}"
            )
        claims.append(claim)
    return claims


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in claims], columns=[f.name for f in fields(Claim)])
