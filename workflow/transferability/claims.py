"""Check the paper's claims against the tidy results table (one row per trained net).

Every claim becomes a `Claim`: an effect, a bootstrap 95% interval, the number of nets behind it
and a verdict. Claims about the base net use each cell's difference to its *own* base (same split,
target and seed), so seed-to-seed variation of the base does not blur the effect. Diverged nets
are excluded everywhere and counted in the details, never silently averaged in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

# The one definition of display names; plots.py imports it.
DISPLAY_NAMES: dict[str, str] = {
    "base": "base",
    "selffer": "BnB",
    "selffer_ft": "BnB+",
    "transfer": "AnB",
    "transfer_ft": "AnB+",
    "random": "random",
}
TREATMENT_ORDER: tuple[str, ...] = tuple(DISPLAY_NAMES)

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"

N_BOOT = 2000
BOOT_SEED = 2014  # fixed so the same table always gives the same intervals and text
CI_LEVEL = 0.95
# An interval from one or two resampled values is a point, not a measure of uncertainty.
MIN_UNITS = 3
# "BnB matches base": the smallest effect the paper interprets is the 1.6% AnB+ boost, so a
# difference whose whole CI stays within 1 point of top-1 is counted as a match.
MATCH_TOLERANCE = 0.01
LOW_END_N = (1, 2)
MID_N = (3, 4, 5)
HIGH_END_N = (6, 7)
HIGH_N_MIN = 5  # "high n" for the specificity claims: the paper's fc layers and conv5
# Random frozen layers are "near chance" once they keep less than half of the base net's
# above-chance accuracy; the paper's own wording ("near chance from n=3") gives no number.
NEAR_CHANCE = 0.5
# A base within 1 point of chance makes (top1 - chance) / (base - chance) explode, so such
# pairs are dropped from the normalised-accuracy claim.
MIN_BASE_ABOVE_CHANCE = 0.01

COLUMNS: dict[str, str] = {
    "split": "object",
    "split_kind": "object",
    "target": "object",
    "source": "object",
    "treatment": "object",
    "n": "int64",
    "seed": "int64",
    "top1": "float64",
    "diverged": "bool",
    "chance": "float64",
    "epochs": "int64",
    "train_seconds": "float64",
}
CELL_KEYS = ["split", "target", "seed"]
NET_KEYS = ["split", "target", "treatment", "n", "seed"]


@dataclass(frozen=True)
class Claim:
    name: str
    statement: str
    paper_value: str
    paper_effect: float  # the paper's value of this same measure; nan: not reported
    effect: float
    ci_low: float
    ci_high: float
    n_nets: int
    verdict: str
    detail: str


@dataclass(frozen=True)
class _Spec:
    name: str
    statement: str
    paper_value: str
    paper_effect: float = float("nan")

    def make(
        self,
        effect: float,
        ci: tuple[float, float],
        n_nets: int,
        verdict: str,
        detail: str,
    ) -> Claim:
        return Claim(
            self.name,
            self.statement,
            self.paper_value,
            self.paper_effect,
            effect,
            ci[0],
            ci[1],
            n_nets,
            verdict,
            detail,
        )

    def no_data(self, why: str, diverged_note: str = "") -> Claim:
        detail = f"no data: {why}." + diverged_note
        return self.make(float("nan"), (float("nan"), float("nan")), 0, INCONCLUSIVE, detail)


# ------------------------------------------------------------------------------------
# Table helpers (public: plots.py draws from the same selection the claims use)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with every expected column present, so partial tables do not crash."""
    out = df.copy()
    for column, dtype in COLUMNS.items():
        if column not in out.columns:
            out[column] = pd.Series(False if dtype == "bool" else pd.NA, index=out.index)
    out["diverged"] = out["diverged"].fillna(False).astype(bool)
    # An unknown n (-1) matches no claim, rather than failing the whole report.
    out["n"] = pd.to_numeric(out["n"], errors="coerce").fillna(-1).astype("int64")
    for column in ("top1", "chance"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out


def usable_nets(df: pd.DataFrame) -> pd.DataFrame:
    """Non-diverged nets: the only ones that enter means, intervals and plots."""
    out = normalise(df)
    return out[~out["diverged"]].reset_index(drop=True)


def diverged_nets(df: pd.DataFrame) -> pd.DataFrame:
    """Diverged nets, sorted so reports list them in a stable order."""
    out = normalise(df)
    out = out[out["diverged"]]
    return out.sort_values(NET_KEYS, kind="stable").reset_index(drop=True)


def pair_with_base(df: pd.DataFrame) -> pd.DataFrame:
    """Non-diverged cells with a `base_top1` column from their own non-diverged base net.

    Cells whose base is missing or diverged have nothing to be compared with and are dropped.
    """
    nets = usable_nets(df)
    bases = nets[nets["treatment"] == "base"]
    # A rerun could leave two bases for one key; averaging them keeps the merge one-to-one.
    bases = bases.groupby(CELL_KEYS, as_index=False)["top1"].mean()
    bases = bases.rename(columns={"top1": "base_top1"})
    cells = nets[nets["treatment"] != "base"]
    return cells.merge(bases, on=CELL_KEYS, how="inner", validate="many_to_one")


# ------------------------------------------------------------------------------------
# Statistics


def _rng() -> np.random.Generator:
    return np.random.default_rng(BOOT_SEED)


def _percentile_ci(samples: np.ndarray) -> tuple[float, float]:
    tail = (1 - CI_LEVEL) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _units(values: Sequence[float], groups: Sequence[str] | None) -> tuple[np.ndarray, ...]:
    """Sum and count of the values per resampling unit: a group, or else each value."""
    x = np.asarray(values, dtype=float)
    if groups is None:
        return x, np.ones_like(x)
    codes, labels = pd.factorize(pd.Series(list(groups), dtype="object"), sort=True)
    sums = np.bincount(codes, weights=x, minlength=len(labels))
    return sums, np.bincount(codes, minlength=len(labels)).astype(float)


def _boot_means(units: tuple[np.ndarray, ...], rng: np.random.Generator) -> np.ndarray:
    """Means over all values of the resampled units (whole groups move together)."""
    sums, counts = units
    idx = rng.integers(0, len(sums), size=(N_BOOT, len(sums)))
    return sums[idx].sum(axis=1) / counts[idx].sum(axis=1)


def bootstrap_mean(
    values: Sequence[float], groups: Sequence[str] | None = None
) -> tuple[float, float]:
    """95% percentile interval of the mean over values, resampling units with replacement:
    whole groups where `groups` labels them, else single values.

    Nets compared with the base net they share form one group: that base's own training
    noise is in every one of their differences to it, so they are one unit of evidence,
    not several (two runs that differed only in dropout masks moved one base net by 1.6
    points and a net-level interval of the AnB+ boost from [-0.2%, +0.4%] to [+0.4%, +1.8%]).
    """
    units = _units(values, groups)
    if len(units[0]) < MIN_UNITS:
        return float("nan"), float("nan")
    return _percentile_ci(_boot_means(units, _rng()))


def bootstrap_diff(
    x: Sequence[float],
    y: Sequence[float],
    x_groups: Sequence[str] | None = None,
    y_groups: Sequence[str] | None = None,
) -> tuple[float, float]:
    """95% interval of mean(x) - mean(y), resampling the two sides independently (by
    group where labelled, as bootstrap_mean)."""
    a, b = _units(x, x_groups), _units(y, y_groups)
    if len(a[0]) < MIN_UNITS or len(b[0]) < MIN_UNITS:
        return float("nan"), float("nan")
    rng = _rng()
    return _percentile_ci(_boot_means(a, rng) - _boot_means(b, rng))


def base_groups(cells: pd.DataFrame) -> list[str]:
    """Each cell's resampling unit: the (split, target, seed) of the base net it shares."""
    return ["/".join(map(str, key)) for key in cells[CELL_KEYS].itertuples(index=False)]


def _sign_verdict(ci: tuple[float, float], expect_negative: bool) -> str:
    low, high = ci
    if np.isnan(low) or np.isnan(high):
        return INCONCLUSIVE
    if (high < 0) if expect_negative else (low > 0):
        return REPRODUCED
    if (low > 0) if expect_negative else (high < 0):
        return NOT_REPRODUCED
    return INCONCLUSIVE


# ------------------------------------------------------------------------------------
# Formatting


def pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}%"


def signed_pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:+.1f}%"


def _ci_text(ci: tuple[float, float]) -> str:
    if any(pd.isna(v) for v in ci):
        return f"no interval (fewer than {MIN_UNITS} units)"
    return f"95% CI [{signed_pct(ci[0])}, {signed_pct(ci[1])}]"


def _n_bases(cells: pd.DataFrame) -> int:
    return len(cells[CELL_KEYS].drop_duplicates())


def _grouped_ci_text(ci: tuple[float, float], bases: str) -> str:
    """The interval of a claim resampled by base net; `bases` says how many there were."""
    if any(pd.isna(v) for v in ci):
        return f"no interval ({bases}: fewer than {MIN_UNITS} to resample)"
    return f"95% CI [{signed_pct(ci[0])}, {signed_pct(ci[1])}] (resampling {bases})"


def _ns(ns: Iterable[int]) -> str:
    return ",".join(str(n) for n in sorted(set(ns)))


def _diverged_note(df: pd.DataFrame, treatments: Iterable[str], split_kind: str | None) -> str:
    """Say how many nets of the treatments a claim uses (and their bases) were thrown out."""
    bad = diverged_nets(df)
    bad = bad[bad["treatment"].isin([*treatments, "base"])]
    if split_kind is not None:
        bad = bad[bad["split_kind"] == split_kind]
    if bad.empty:
        return ""
    return f" {len(bad)} diverged net(s) of these treatments or their bases were excluded."


# ------------------------------------------------------------------------------------
# Claims

_SELFFER_MATCH = _Spec(
    "selffer_low_n_matches_base",
    "Selffer nets BnB chopped at n=1 or 2 perform as well as their base net "
    f"(match = 95% CI of BnB - base within ±{MATCH_TOLERANCE:.0%} top-1).",
    "BnB .627/.624 vs base .625 at n=1/2 (+0.2%, -0.1%)",
    0.6255 - 0.625,  # mean of BnB at n=1,2 minus base, from the paper's per-layer means
)


def claim_selffer_low_n_matches_base(df: pd.DataFrame) -> Claim:
    spec = _SELFFER_MATCH
    note = _diverged_note(df, ["selffer"], None)
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "selffer") & paired["n"].isin(LOW_END_N)]
    if cells.empty:
        return spec.no_data("no non-diverged BnB net at n=1 or 2 with a usable base", note)
    diff = (cells["top1"] - cells["base_top1"]).to_numpy()
    effect, ci = float(diff.mean()), bootstrap_mean(diff, base_groups(cells))
    low, high = ci
    if np.isnan(low):
        verdict = INCONCLUSIVE
    elif low >= -MATCH_TOLERANCE and high <= MATCH_TOLERANCE:
        verdict = REPRODUCED
    elif high < -MATCH_TOLERANCE or low > MATCH_TOLERANCE:
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    detail = (
        f"Mean of BnB - own base over {len(diff)} nets at n={_ns(cells['n'])} (all splits): "
        f"{signed_pct(effect)}, {_grouped_ci_text(ci, f'{_n_bases(cells)} base nets')}; a match "
        "needs the CI within "
        f"±{100 * MATCH_TOLERANCE:.1f}%, a mismatch needs it entirely outside.{note}"
    )
    return spec.make(effect, ci, len(diff), verdict, detail)


_SELFFER_DIP = _Spec(
    "selffer_dip",
    "Selffer nets BnB lose accuracy when chopped in the middle layers (n=3..5) compared with "
    "the ends (n=1,2 and 6,7): fragile co-adaptation of neighbouring layers.",
    "BnB mid .607 vs ends .623 (-1.7%); lowest .594 at n=5",
    (0.621 + 0.605 + 0.594) / 3 - ((0.627 + 0.624) / 2 + (0.619 + 0.623) / 2) / 2,
)


def _dip_per_group(cells: pd.DataFrame) -> pd.Series:
    """Mid minus ends for each (split, target, seed); needs both ends to tell a dip from a slope."""

    def one(group: pd.DataFrame) -> float:
        by_n = group.groupby("n")["top1"].mean()
        low, mid, high = (by_n[by_n.index.isin(ns)] for ns in (LOW_END_N, MID_N, HIGH_END_N))
        if low.empty or mid.empty or high.empty:
            return float("nan")
        return float(mid.mean() - (low.mean() + high.mean()) / 2)

    dips = {key: one(group) for key, group in cells.groupby(CELL_KEYS, sort=True)}
    return pd.Series(dips, dtype=float).dropna()


def claim_selffer_dip(df: pd.DataFrame) -> Claim:
    spec = _SELFFER_DIP
    note = _diverged_note(df, ["selffer"], None)
    nets = usable_nets(df)
    cells = nets[nets["treatment"] == "selffer"]
    dips = _dip_per_group(cells) if not cells.empty else pd.Series(dtype=float)
    if dips.empty:
        return spec.no_data(
            "no (split, target, seed) has BnB nets at a low end (n=1,2), the middle (n=3..5) "
            "and a high end (n=6,7)",
            note,
        )
    used = cells.set_index(CELL_KEYS).index.isin(dips.index)
    n_nets = int(used.sum())
    effect, ci = float(dips.mean()), bootstrap_mean(dips.to_numpy())
    detail = (
        f"Per (split, target, seed), mean BnB top-1 at n=3..5 minus the mean of the n=1,2 and "
        f"n=6,7 means, averaged over {len(dips)} groups ({n_nets} nets, all splits, "
        f"n={_ns(cells[used]['n'])}): {signed_pct(effect)}, {_ci_text(ci)} (bootstrap over "
        f"groups); a dip needs the CI below 0.{note}"
    )
    return spec.make(effect, ci, n_nets, _sign_verdict(ci, expect_negative=True), detail)


def _lowest_and_highest(cells: pd.DataFrame) -> tuple[int, int] | None:
    ns = sorted(set(cells["n"]))
    return (ns[0], ns[-1]) if len(ns) >= 2 else None


def _low_and_high_groups(cells: pd.DataFrame) -> tuple[list[int], list[int]] | None:
    """Low n (1, 2) and high n (5..7), else the lowest and highest n there are.

    Pooling the ends gives a handful of nets per side even with one random split,
    where the single n=1 and n=7 would leave two nets each and no interval.
    """
    ns = sorted(set(cells["n"]))
    if len(ns) < 2:
        return None
    low = [n for n in ns if n in LOW_END_N] or ns[:1]
    high = [n for n in ns if n >= HIGH_N_MIN and n not in low] or ns[-1:]
    return low, high


_TRANSFER_DECLINE = _Spec(
    "transfer_declines_with_n",
    "Transfer nets AnB get worse the more frozen layers come from the other half "
    "(features become specific to their task in the higher layers).",
    "AnB .628 at n=1 to .543 at n=7 (-8.5%); this measure (n=5..7 minus n=1,2) from the "
    "paper's per-layer means: -5.9%",
    (0.578 + 0.581 + 0.543) / 3 - (0.628 + 0.624) / 2,
)


def claim_transfer_declines_with_n(df: pd.DataFrame) -> Claim:
    spec = _TRANSFER_DECLINE
    note = _diverged_note(df, ["transfer"], "random")
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "transfer") & (paired["split_kind"] == "random")]
    groups = _low_and_high_groups(cells)
    if groups is None:
        return spec.no_data(
            "needs AnB nets with a usable base at two or more n on random splits", note
        )
    n_lo, n_hi = groups
    diff = cells["top1"] - cells["base_top1"]
    lo, hi = diff[cells["n"].isin(n_lo)].to_numpy(), diff[cells["n"].isin(n_hi)].to_numpy()
    effect, ci = float(hi.mean() - lo.mean()), bootstrap_diff(hi, lo)
    detail = (
        f"Mean AnB - own base at n={_ns(n_hi)} ({signed_pct(hi.mean())}, {len(hi)} nets) "
        f"minus at n={_ns(n_lo)} ({signed_pct(lo.mean())}, {len(lo)} nets), random splits: "
        f"{signed_pct(effect)}, {_ci_text(ci)}; a decline needs the CI below 0.{note}"
    )
    return spec.make(effect, ci, len(hi) + len(lo), _sign_verdict(ci, True), detail)


_TRANSFER_FT_BOOST = _Spec(
    "transfer_ft_boost",
    "Transfer nets fine-tuned on the target (AnB+) beat the base net trained on the target "
    "alone: a lingering boost to generalisation from the transferred features.",
    "Table 1: +1.6% averaged over n=1..7",
    0.016,
)


def claim_transfer_ft_boost(df: pd.DataFrame) -> Claim:
    spec = _TRANSFER_FT_BOOST
    note = _diverged_note(df, ["transfer_ft"], "random")
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "transfer_ft") & (paired["split_kind"] == "random")]
    if cells.empty:
        return spec.no_data("no non-diverged AnB+ net with a usable base on random splits", note)
    diff = cells["top1"] - cells["base_top1"]
    effect, ci = float(diff.mean()), bootstrap_mean(diff.to_numpy(), base_groups(cells))
    is_high = cells["n"] >= HIGH_N_MIN
    high = diff[is_high].to_numpy()
    high_ci = bootstrap_mean(high, base_groups(cells[is_high]))
    high_text = (
        f"at n>={HIGH_N_MIN} ({len(high)} nets): {signed_pct(high.mean())}, "
        f"{_grouped_ci_text(high_ci, f'{_n_bases(cells[is_high])} base nets')}"
        if len(high)
        else f"no nets at n>={HIGH_N_MIN}"
    )
    detail = (
        f"Mean AnB+ - own base over {len(diff)} nets at n={_ns(cells['n'])}, random splits: "
        f"{signed_pct(effect)}, {_grouped_ci_text(ci, f'{_n_bases(cells)} base nets')}; "
        f"{high_text}. "
        f"A boost needs the CI above 0, a loss the CI below 0.{note}"
    )
    return spec.make(effect, ci, len(diff), _sign_verdict(ci, expect_negative=False), detail)


_TRANSFER_FT_BOOST_HIGH = _Spec(
    "transfer_ft_boost_high_n",
    f"AnB+ nets chopped high (n={HIGH_N_MIN}..7, most layers transferred) beat their base "
    "net; the paper saw its largest boost there.",
    f"Table 1: +2.1% averaged over n={HIGH_N_MIN}..7",
    0.021,
)


def claim_transfer_ft_boost_high_n(df: pd.DataFrame) -> Claim:
    spec = _TRANSFER_FT_BOOST_HIGH
    note = _diverged_note(df, ["transfer_ft"], "random")
    paired = pair_with_base(df)
    cells = paired[
        (paired["treatment"] == "transfer_ft")
        & (paired["split_kind"] == "random")
        & (paired["n"] >= HIGH_N_MIN)
    ]
    if cells.empty:
        return spec.no_data(
            f"no non-diverged AnB+ net at n>={HIGH_N_MIN} with a usable base on random splits",
            note,
        )
    diff = (cells["top1"] - cells["base_top1"]).to_numpy()
    effect, ci = float(diff.mean()), bootstrap_mean(diff, base_groups(cells))
    detail = (
        f"Mean AnB+ - own base over {len(diff)} nets at n={_ns(cells['n'])}, random splits: "
        f"{signed_pct(effect)}, {_grouped_ci_text(ci, f'{_n_bases(cells)} base nets')}. A boost "
        f"needs the CI above 0, a loss the CI below 0.{note}"
    )
    return spec.make(effect, ci, len(diff), _sign_verdict(ci, expect_negative=False), detail)


_DISSIMILAR = _Spec(
    "dissimilar_drops_more",
    "Transfer AnB at high n loses more, relative to the base, when the halves are dissimilar "
    "(man-made vs natural) than when they are random: transferability falls as tasks drift apart.",
    "-8% random vs -25% dissimilar at n=7 (difference -17%; n=5,6 not reported)",
    -0.17,
)


def claim_dissimilar_drops_more(df: pd.DataFrame) -> Claim:
    spec = _DISSIMILAR
    note = _diverged_note(df, ["transfer"], None)
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "transfer") & (paired["n"] >= HIGH_N_MIN)]
    rel = (cells["top1"] - cells["base_top1"]) / cells["base_top1"]
    kind = cells["split_kind"]
    # Compare the two kinds at the same n, otherwise a deeper n on one side fakes a bigger drop.
    ns = sorted(set(cells.loc[kind == "random", "n"]) & set(cells.loc[kind == "dissimilar", "n"]))
    if not ns:
        return spec.no_data(
            f"needs AnB nets with a usable base at a common n>={HIGH_N_MIN} on both random and "
            "dissimilar splits",
            note,
        )
    at_ns = cells["n"].isin(ns)
    is_dis, is_rnd = at_ns & (kind == "dissimilar"), at_ns & (kind == "random")
    dis, rnd = rel[is_dis].to_numpy(), rel[is_rnd].to_numpy()
    ci = bootstrap_diff(dis, rnd, base_groups(cells[is_dis]), base_groups(cells[is_rnd]))
    effect = float(dis.mean() - rnd.mean())
    bases = f"{_n_bases(cells[is_dis])} dissimilar and {_n_bases(cells[is_rnd])} random base nets"
    detail = (
        f"Mean relative drop (AnB - base) / base at n={_ns(ns)}: "
        f"dissimilar {signed_pct(dis.mean())} "
        f"({len(dis)} nets) vs random {signed_pct(rnd.mean())} ({len(rnd)} nets); difference "
        f"{signed_pct(effect)}, {_grouped_ci_text(ci, bases)}; a larger drop needs the CI "
        f"below 0.{note}"
    )
    return spec.make(effect, ci, len(dis) + len(rnd), _sign_verdict(ci, True), detail)


_RANDOM = _Spec(
    "random_toward_chance",
    "Frozen random layers RnB fall toward chance as n grows "
    f"(near chance = under {NEAR_CHANCE:.0%} of the base's above-chance accuracy kept).",
    "fine at n=1, worse at n=2, near chance from n=3 (no number: not reported)",
)


def _random_verdict(ci: tuple[float, float], norm_high: float) -> str:
    low, high = ci
    if np.isnan(low):
        return INCONCLUSIVE
    if high < 0 and norm_high < NEAR_CHANCE:
        return REPRODUCED
    if low > 0 or norm_high >= NEAR_CHANCE:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def claim_random_toward_chance(df: pd.DataFrame) -> Claim:
    spec = _RANDOM
    note = _diverged_note(df, ["random"], None)
    paired = pair_with_base(df)
    cells = paired[paired["treatment"] == "random"]
    cells = cells[cells["base_top1"] - cells["chance"] >= MIN_BASE_ABOVE_CHANCE]
    ends = _lowest_and_highest(cells)
    if ends is None:
        return spec.no_data(
            "needs random-frozen nets, with a base above chance, at two or more n", note
        )
    n_lo, n_hi = ends
    norm = (cells["top1"] - cells["chance"]) / (cells["base_top1"] - cells["chance"])
    lo, hi = norm[cells["n"] == n_lo].to_numpy(), norm[cells["n"] == n_hi].to_numpy()
    effect, ci = float(hi.mean() - lo.mean()), bootstrap_diff(hi, lo)
    detail = (
        f"Normalised accuracy (top1 - chance) / (base - chance), all splits: n={n_lo} "
        f"{pct(lo.mean())} ({len(lo)} nets), n={n_hi} {pct(hi.mean())} ({len(hi)} nets); "
        f"difference {signed_pct(effect)}, {_ci_text(ci)}. Reproduced needs the CI below 0 and "
        f"under {NEAR_CHANCE:.0%} kept at n={n_hi}; not reproduced if the CI is above 0 or "
        f"{NEAR_CHANCE:.0%} or more is kept.{note}"
    )
    return spec.make(effect, ci, len(hi) + len(lo), _random_verdict(ci, float(hi.mean())), detail)


CLAIM_FUNCTIONS: tuple[Callable[[pd.DataFrame], Claim], ...] = (
    claim_selffer_low_n_matches_base,
    claim_selffer_dip,
    claim_transfer_declines_with_n,
    claim_transfer_ft_boost,
    claim_transfer_ft_boost_high_n,
    claim_dissimilar_drops_more,
    claim_random_toward_chance,
)


def all_claims(df: pd.DataFrame) -> list[Claim]:
    return [claim(df) for claim in CLAIM_FUNCTIONS]


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in claims], columns=[f.name for f in fields(Claim)])


# ------------------------------------------------------------------------------------
# Markdown report

METHOD = (
    "Each claim of Yosinski et al. (2014) is turned into one number measured on the trained nets, "
    "with a 95% bootstrap interval ({n_boot} resamples, fixed seed). Where a claim is about the "
    "base net, each cell is compared with its own base (same split, target and seed), and the "
    "bootstrap resamples base nets, each with all the cells compared with it: that base's own "
    "training noise is in all of their differences, so they count as one unit of evidence. "
    "Claims within a base's cells (the dip, the decline, random layers) resample groups or "
    "nets as their details say. Every net "
    "was selected (checkpoint choice) on a validation split carved from the training images and "
    "is reported on the untouched test images; the paper instead reported the mean of the 10 "
    "best scores on the same validation set it selected on, so its numbers are slightly "
    "optimistic and ours are not directly comparable in level, only in shape. A verdict is "
    "'reproduced' when the interval lies on the side the paper predicts, 'not reproduced' when "
    "it lies on the other side, and 'inconclusive' when it straddles the threshold or data is "
    "missing."
)


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict_text(claim: Claim) -> str:
    return f"{claim.verdict} (no data)" if claim.n_nets == 0 else claim.verdict


def _claims_section(claims: Sequence[Claim]) -> str:
    header = [
        "claim",
        "statement",
        "paper",
        "paper effect",
        "effect",
        "95% CI",
        "nets",
        "verdict",
        "how measured",
    ]
    rows = [
        [
            f"`{c.name}`",
            c.statement,
            c.paper_value,
            "not reported" if pd.isna(c.paper_effect) else signed_pct(c.paper_effect),
            signed_pct(c.effect),
            "n/a" if pd.isna(c.ci_low) else f"[{signed_pct(c.ci_low)}, {signed_pct(c.ci_high)}]",
            c.n_nets,
            f"**{_verdict_text(c)}**",
            c.detail,
        ]
        for c in claims
    ]
    return _md_table(header, rows)


def _diverged_section(df: pd.DataFrame) -> str:
    bad = diverged_nets(df)
    if bad.empty:
        return "No net diverged."
    rows = bad[NET_KEYS].itertuples(index=False)
    table = _md_table(["split", "target", "treatment", "n", "seed"], rows)
    quoted = "\n".join(f"> {line}" for line in table.splitlines())
    return (
        f"> **Warning: {len(bad)} net(s) diverged** (loss NaN, chance-level score). They are "
        "excluded from every mean, interval and figure:\n>\n" + quoted
    )


def mean_top1_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean top-1 per treatment (rows, paper order) and n (columns), random splits only."""
    nets = usable_nets(df)
    nets = nets[nets["split_kind"] == "random"]
    if nets.empty:
        return pd.DataFrame()
    table = nets.pivot_table(index="treatment", columns="n", values="top1", aggfunc="mean")
    order = [t for t in TREATMENT_ORDER if t in table.index]
    return table.reindex(order).sort_index(axis=1)


def _means_section(df: pd.DataFrame) -> str:
    table = mean_top1_table(df)
    if table.empty:
        return "No usable nets on random splits."
    header = ["treatment", *(f"n={n}" for n in table.columns)]
    rows = [
        [
            DISPLAY_NAMES.get(t, t),
            *("–" if pd.isna(v) else pct(v) for v in table.loc[t]),
        ]
        for t in table.index
    ]
    return _md_table(header, rows)


def render_markdown(df: pd.DataFrame, claims: Sequence[Claim]) -> str:
    nets = normalise(df)
    n_bad = int(nets["diverged"].sum())
    parts = [
        "# Claims of Yosinski et al. (2014), checked against this run",
        METHOD.format(n_boot=N_BOOT),
        f"**Nets:** {len(nets)} in the table, {len(nets) - n_bad} used, {n_bad} diverged.",
        _diverged_section(df),
        "## Claims",
        _claims_section(claims),
        "## Mean top-1 by treatment and n (random splits, diverged nets excluded)",
        _means_section(df),
    ]
    return "\n\n".join(parts) + "\n"
