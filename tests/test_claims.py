"""Each claim gives the verdict its synthetic table calls for (reproduced where the paper's
effect is there, not reproduced where it is confidently absent), resamples units that share
no base net, and never counts a net that did not train."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from transferability.analysis import claims as C
from transferability.analysis import claims_report, stats, units
from transferability.analysis.nets import excluded_nets, normalise, pair_with_base, usable_nets
from transferability.treatments import CELL_TREATMENTS

from .support import REPO, claim_rows
from .synthetic import BASE, CHANCE, make_table, override, set_status

pytestmark = pytest.mark.claims


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table()


# --- every claim: a table where it holds, one where it does not

flat = override(selffer=lambda n, k: BASE)
# The decline's unit is the split: three random splits for an interval.
RANDOM3 = ("random0", "random1", "random2", "dissimilar")
# The partition claims' unit is the split too, and a slope with a covariate needs 5 of them.
SIX = (*(f"random{i}" for i in range(6)), "dissimilar")
GAIN = BASE - CHANCE  # the synthetic base's accuracy above chance
# (claim, table where the paper's effect is there, table where it is confidently absent)
CASES = {
    "selffer_low_n_matches_base": ({}, {"effect": override(selffer=lambda n, k: BASE - 0.05)}),
    "selffer_dip": ({}, {"effect": flat}),
    "transfer_declines_with_n": (
        {"splits": RANDOM3},
        {"effect": override(transfer=lambda n, k: BASE), "splits": RANDOM3},
    ),
    "transfer_ft_boost": ({}, {"effect": override(transfer_ft=lambda n, k: BASE - 0.02)}),
    "transfer_ft_boost_high_n": (
        {"effect": override(transfer_ft=lambda n, k: BASE + (0.02 if n >= 5 else 0.0))},
        {"effect": override(transfer_ft=lambda n, k: BASE + (0.02 if n < 5 else 0.0))},
    ),
    "dissimilar_drops_more": (
        {"splits": SIX},
        {"effect": override(transfer=lambda n, k: BASE - 0.02 * (n - 1)), "splits": SIX},
    ),
    "transfer_falls_with_distance": (
        {"splits": SIX},
        {"effect": override(transfer=lambda n, k: BASE - 0.02 * (n - 1)), "splits": SIX},
    ),
    "transfer_falls_with_distance_high_n": (
        {"splits": SIX},
        {"effect": override(transfer=lambda n, k: BASE - 0.02 * (n - 1)), "splits": SIX},
    ),
    "random_toward_chance": ({}, {"effect": override(random=lambda n, k: BASE - 0.01)}),
    "random_paper_init_toward_chance": (
        {},
        {"effect": override(random_paper=lambda n, k: BASE - 0.01)},
    ),
}


def check(name: str, df: pd.DataFrame) -> C.Claim:
    """One claim of the registry checked on `df` (not gated by the convergence check)."""
    return C.evaluate(C.BY_NAME[name], df)


def margin(name: str) -> float:
    return C.BY_NAME[name].margin.threshold


def test_every_claim_has_a_case():
    assert set(CASES) == set(C.BY_NAME)


def test_each_claim_is_one_registry_entry_and_one_row_of_each_table(table):
    """Everything about a claim is in its entry: the report's rows follow the registry."""
    names = [spec.name for spec in C.REGISTRY]
    assert len(set(names)) == len(names) and list(C.BY_NAME) == names
    for spec in C.REGISTRY:
        assert spec.margin.reason and spec.label and spec.statement and spec.paper_value, spec
        assert callable(spec.measure) and spec.how.startswith("Per "), spec.name
        assert spec.margin.side in ("above", "below", "within"), spec.name
        assert spec.keys and set(spec.treatments) <= set(CELL_TREATMENTS), spec.name
    labels = [spec.label for spec in C.REGISTRY]
    assert len(set(labels)) == len(labels)
    text = claims_report.render_markdown(table, C.all_claims(table))
    assert claim_rows(text, "Claims") == claim_rows(text, "Margins") == names


@pytest.mark.parametrize("name", sorted(CASES))
def test_claim_is_reproduced_where_the_effect_is_there(name):
    holds, _ = CASES[name]
    claim = check(name, make_table(**holds))
    assert claim.verdict == C.REPRODUCED, claim.detail


@pytest.mark.parametrize("name", sorted(CASES))
def test_claim_is_not_reproduced_where_the_effect_is_absent(name):
    holds, fails = CASES[name]
    claim = check(name, make_table(**fails))
    assert claim.verdict == C.NOT_REPRODUCED, claim.detail
    assert check(name, make_table(**holds)).verdict != claim.verdict


def test_a_dip_too_small_to_matter_is_not_reproduced_and_a_bump_neither():
    # 0.2 points mid vs ends (0.5% of the gain over chance): real, but under the 1% margin.
    small = override(selffer=lambda n, k: BASE - (0.002 if 3 <= n <= 5 else 0.0))
    bump = override(selffer=lambda n, k: BASE + (0.03 if 3 <= n <= 5 else 0.0))
    for effect in (small, bump):
        assert check("selffer_dip", make_table(effect, noise=0.0005)).verdict == C.NOT_REPRODUCED


def test_an_effect_at_the_margin_is_inconclusive():
    # The dip is exactly the margin: the interval straddles it, whatever the noise.
    dip = margin("selffer_dip")
    at_margin = override(selffer=lambda n, k: BASE + (dip * GAIN if 3 <= n <= 5 else 0.0))
    claim = check("selffer_dip", make_table(at_margin, noise=0.003, base_noise=0.0))
    assert claim.gain_ci_low < dip < claim.gain_ci_high and claim.verdict == C.INCONCLUSIVE


def test_selffer_dip_inconclusive_without_high_end():
    # Without n=6,7 a monotone decline would look like a dip, so there must be no verdict.
    claim = check("selffer_dip", make_table(ns=range(1, 6)))
    assert claim.verdict == C.INCONCLUSIVE and claim.n_units == 0


def test_transfer_decline_uses_random_splits_only(table):
    # Random splits lose 1 point per layer: n=5..7 vs n=1,2 is -4.5 points. The dissimilar
    # split declines three times as fast; it must not leak into this effect.
    assert check("transfer_declines_with_n", table).effect == pytest.approx(-0.045, abs=0.002)


def test_random_is_judged_from_n3_not_at_n7_only():
    # Near chance at n=7 only: n=3..6 keep most of the signal, so the paper's
    # "near chance from n=3" does not hold.
    late = override(random=lambda n, k: CHANCE + 0.01 if n == 7 else BASE - 0.02)
    assert check("random_toward_chance", make_table(late)).verdict == C.NOT_REPRODUCED


# --- the boost and its control


@pytest.mark.parametrize("name", ["transfer_ft_boost", "transfer_ft_boost_high_n"])
def test_boost_not_reproduced_when_bnb_plus_is_as_high_as_anb_plus(name):
    both_high = override(selffer_ft=lambda n, k: BASE + 0.02)
    claim = check(name, make_table(both_high))
    assert claim.gain_ci_low > margin(name)  # AnB+ does beat the base ...
    assert claim.control_gain_ci_high < margin(name)  # ... but not BnB+
    assert claim.verdict == C.NOT_REPRODUCED


@pytest.mark.parametrize("name", ["transfer_ft_boost", "transfer_ft_boost_high_n"])
def test_boost_inconclusive_when_the_control_straddles_the_margin(name):
    boost = margin(name)
    near = override(selffer_ft=lambda n, k: BASE + 0.02 - boost * GAIN)  # AnB+ - BnB+ = margin
    claim = check(name, make_table(near, noise=0.004))
    assert claim.control_gain_ci_low < boost < claim.control_gain_ci_high
    assert claim.verdict == C.INCONCLUSIVE


def test_boost_reports_both_measures(table):
    claim = check("transfer_ft_boost", table)
    assert claim.control == "AnB+ - BnB+"
    assert claim.effect == pytest.approx(0.02, abs=0.003)
    assert claim.control_effect == pytest.approx(0.02, abs=0.003)
    assert claim.paper_effect == 0.016 and claim.paper_control_effect == 0.014
    assert claim.control_gain_effect == pytest.approx(0.02 / GAIN, abs=0.008)
    text = claims_report.render_markdown(table, [claim])
    gain, points = 100 * claim.control_gain_effect, 100 * claim.control_effect
    assert (
        f"AnB+ - BnB+: {gain:+.1f}% [" in text and f"in points {points:+.2f} (paper +1.40)" in text
    )


# --- independent units


def _bases_touched(unit: pd.DataFrame, reference: bool = True) -> set[tuple]:
    """Every base net a unit's measure depends on: the one copied from, and the one compared
    with unless the measure is a within-target difference in which it cancels."""
    touched = {(r.split, r.source, r.seed) for r in unit.itertuples() if r.source in ("A", "B")}
    if reference:
        touched |= {(r.split, r.target, r.seed) for r in unit.itertuples()}
    return touched


def _disjoint(groups, reference: bool = True) -> bool:
    touched = [_bases_touched(unit, reference) for unit in groups]
    return all(not (a & b) for a, b in itertools.combinations(touched, 2))


@pytest.mark.parametrize("name", sorted(C.BY_NAME))
def test_units_of_every_claim_never_share_a_base_net(table, name):
    spec = C.BY_NAME[name]
    groups = units.groups(table, spec.treatments, spec.keys)
    cancels = spec.keys == units.SOURCE_BASE
    assert len(groups) >= 3 and _disjoint(groups.values(), reference=not cancels)


def test_the_decline_does_not_depend_on_the_targets_own_base():
    """AnB cells of one target all compare with the same own base: in points, shifting a
    target's base moves no unit (the target's own base cancels in high n minus low n)."""
    table = make_table(splits=RANDOM3)
    claim = check("transfer_declines_with_n", table)
    shifted = table.copy()
    shifted.loc[shifted["treatment"] == "base", "top1"] += 0.05
    again = check("transfer_declines_with_n", shifted)
    assert again.effect == pytest.approx(claim.effect)
    assert (again.ci_low, again.ci_high) == pytest.approx((claim.ci_low, claim.ci_high))
    assert claim.n_units == 3  # 3 random splits, each averaging 2 source halves x 3 seeds
    assert "(18 units, which share splits)" in claim.detail


def test_grouping_transfer_cells_by_base_net_would_share_bases(table):
    # The check above can fail: AnB units keyed by (split, target, seed) share both bases.
    cells = usable_nets(table)
    cells = cells[cells["treatment"] == "transfer"]
    assert not _disjoint(g for _, g in cells.groupby(["split", "target", "seed"]))


def test_a_claims_unit_follows_from_its_treatments(table):
    unit_of = {c.name: c.unit for c in C.all_claims(table)}
    transfer = {"transfer_ft_boost", "transfer_ft_boost_high_n"}
    # The partition is the unit of the claims whose effect it drives.
    partition = {
        "transfer_declines_with_n",
        "dissimilar_drops_more",
        "transfer_falls_with_distance",
        "transfer_falls_with_distance_high_n",
    }
    for name, unit in unit_of.items():
        if name in partition:
            assert unit == "split", name
            continue
        assert unit == ("split × seed" if name in transfer else "split × target × seed"), name


def test_units_not_nets_are_resampled():
    """AnB+ is 1.2 points above the base, but both base nets of each (split, seed) are 2
    points off by their own training noise (up in half the units, down in the others). Over
    84 nets the boost would look certain; over 6 units the interval reaches below the margin."""
    df = make_table(
        override(transfer_ft=lambda n, k: BASE + 0.012, selffer_ft=lambda n, k: BASE),
        splits=("random0", "random1"),
        noise=0.001,
        base_noise=0.0,
    )
    bases = df["treatment"] == "base"
    unit = df["split"].map({"random0": 0, "random1": 3}) + df["seed"]
    df.loc[bases, "top1"] += np.where(unit[bases] % 2, 0.02, -0.02)
    claim = check("transfer_ft_boost", df)
    assert claim.n_units == 6 and claim.verdict == C.INCONCLUSIVE
    assert claim.ci_low < margin("transfer_ft_boost")
    nets = pair_with_base(df)
    nets = nets[nets["treatment"] == "transfer_ft"]
    assert stats.t_interval((nets["top1"] - nets["base_top1"]).to_numpy())[0] > 0.005


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("transfer_ft_boost", {"splits": ["random0"], "seeds": [0, 1]}),
        ("transfer_declines_with_n", {"splits": ["random0", "random1"], "seeds": [0]}),
        ("dissimilar_drops_more", {"seeds": [0, 1]}),
        ("selffer_dip", {"splits": ["random0"], "seeds": [0]}),
    ],
)
def test_fewer_than_three_units_give_no_interval(name, kwargs):
    claim = check(name, make_table(**kwargs))
    assert np.isnan(claim.ci_low) and np.isnan(claim.ci_high)
    assert claim.verdict == C.INCONCLUSIVE
    assert re.search(r"2 (unit|random partition)", claim.detail), claim.detail
    assert f"at least {stats.MIN_UNITS} needed" in claim.detail


# --- nets that did not train


def test_failed_and_diverged_nets_are_excluded_and_listed(table):
    is_cell = (table["split"] == "random0") & (table["seed"] == 1) & (table["target"] == "B")
    failed = is_cell & (table["treatment"] == "random") & (table["n"] == 5)
    diverged = is_cell & (table["treatment"] == "transfer_ft") & (table["n"] == 2)
    df = set_status(table, failed, "failed", "final loss 1.609 = ln 5: one class predicted")
    df = set_status(df, diverged, "diverged", "loss NaN at epoch 3")
    kept = table[~(failed | diverged)].reset_index(drop=True)
    strip = ("detail",)
    for ours, ref in zip(C.all_claims(df), C.all_claims(kept), strict=True):
        assert {k: v for k, v in vars(ours).items() if k not in strip} == {
            k: v for k, v in vars(ref).items() if k not in strip
        }
    text = claims_report.render_markdown(df, C.all_claims(df))
    assert "2 net(s) excluded (1 diverged, 1 failed)" in text
    assert "| random0 | B | random | 5 | 1 | failed | final loss 1.609 = ln 5" in text
    assert "| random0 | B | transfer_ft | 2 | 1 | diverged | loss NaN at epoch 3 |" in text
    assert "(1 trained" not in text and "2 diverged" not in text
    assert "1 failed" in check("random_toward_chance", df).detail


def test_a_failed_base_takes_its_cells_out_of_base_comparisons(table):
    base = (
        (table["treatment"] == "base")
        & (table["split"] == "random0")
        & (table["target"] == "A")
        & (table["seed"] == 0)
    )
    df = set_status(table, base, "failed", "best validation top-1 at chance")
    assert check("selffer_low_n_matches_base", df).n_units == 17


def test_old_tables_get_a_status_from_diverged(table):
    old = table.drop(columns=["status", "status_reason"])
    cells = old.index[old["treatment"] != "base"]
    old.loc[cells[:2], "diverged"] = True
    nets = normalise(old)
    assert list(nets.loc[cells[:3], "status"]) == ["diverged", "diverged", "trained"]
    assert (nets["status_reason"] == "").all()
    assert len(excluded_nets(old)) == 2 and len(usable_nets(old)) == len(old) - 2


def test_cells_built_on_a_base_that_did_not_train_are_not_counted(table):
    base = (table["treatment"] == "base") & (table["split"] == "random0")
    base &= (table["target"] == "A") & (table["seed"] == 0)
    df = set_status(table, base, "failed", "did not learn")
    nets = normalise(df)
    # Cells copying from random0/A (AnB on B, BnB on A) go; random cells of A keep theirs.
    copied = (df["split"] == "random0") & (df["source"] == "A") & (df["seed"] == 0)
    copied &= df["treatment"] != "base"
    assert (nets.loc[copied, "status"] == "failed").all()
    assert nets.loc[copied, "status_reason"].str.contains("random0/A/seed0").all()
    assert len(excluded_nets(df)) == 1 + int(copied.sum())


def test_only_trained_nets_are_usable(table):
    df = set_status(table, table.index[table["treatment"] != "base"][:3], "failed", "collapsed")
    assert len(usable_nets(df)) == len(table) - 3
    assert list(excluded_nets(df)["status"]) == ["failed"] * 3


# --- intervals


@pytest.mark.parametrize(("df", "t"), [(2, 4.3027), (4, 2.7764), (30, 2.0423)])
def test_t_quantile_matches_the_tables(df, t):
    assert stats.t_quantile(0.975, df) == pytest.approx(t, abs=1e-4)


def test_t_interval_covers_with_three_units_where_the_bootstrap_does_not():
    """Why t is the default: over 3 normal units, t covers about 95%, the percentile
    bootstrap far less."""
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 1, size=(300, 3))
    t_cover = np.mean([lo < 0 < hi for lo, hi in map(stats.t_interval, samples)])
    boot_cover = np.mean([lo < 0 < hi for lo, hi in map(stats.bootstrap_mean, samples)])
    assert t_cover > 0.9 and boot_cover < 0.8


# --- report


def test_empty_table_gives_no_data_everywhere():
    claims = C.all_claims(make_table().iloc[0:0])
    assert all(c.verdict == C.INCONCLUSIVE and c.n_nets == 0 for c in claims)
    assert "inconclusive (no data)" in claims_report.render_markdown(make_table().iloc[0:0], claims)


def test_claims_md_states_margins_units_and_display_names(table):
    text = claims_report.render_markdown(table, C.all_claims(table))
    assert claims_report.margins_markdown() in text
    for claim in C.all_claims(table):
        assert claim.margin in text and "Unit:" in claim.detail
    assert "| AnB+ |" in text and "| BnB |" in text


def test_docs_carry_the_margins_the_code_uses():
    docs = (REPO / "docs/claims.md").read_text()
    assert claims_report.margins_markdown() in docs, "paste claims_report.margins_markdown()"
