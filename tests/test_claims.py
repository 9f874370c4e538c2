"""Each claim check gives the right verdict on tables where the effect is present, reversed or
missing, and diverged nets never move a result."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pytest

from transferability import claims as C

from .synthetic import BASE, CHANCE, make_table, override


def without(df: pd.DataFrame, treatment: str, ns: Iterable[int] | None = None) -> pd.DataFrame:
    drop = df["treatment"] == treatment
    if ns is not None:
        drop &= df["n"].isin(list(ns))
    return df[~drop].reset_index(drop=True)


def with_diverged_copy(df: pd.DataFrame, treatment: str) -> pd.DataFrame:
    """Add a diverged rerun of an existing net, scoring chance: it must change nothing."""
    row = df[df["treatment"] == treatment].iloc[[0]].copy()
    row["top1"], row["diverged"] = CHANCE, True
    return pd.concat([df, row], ignore_index=True)


def numbers(claim: C.Claim) -> tuple:
    return claim.effect, claim.ci_low, claim.ci_high, claim.n_nets, claim.verdict


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table()


# --- claim 1: BnB at n=1,2 matches base


def test_selffer_match_reproduced(table):
    assert C.claim_selffer_low_n_matches_base(table).verdict == C.REPRODUCED


def test_selffer_match_not_reproduced_when_low_n_bnb_is_worse():
    df = make_table(override(selffer=lambda n, k: BASE - 0.05))
    assert C.claim_selffer_low_n_matches_base(df).verdict == C.NOT_REPRODUCED


def test_selffer_match_inconclusive_without_low_n(table):
    claim = C.claim_selffer_low_n_matches_base(without(table, "selffer", [1, 2]))
    assert claim.verdict == C.INCONCLUSIVE


# --- claim 2: BnB dip


def test_selffer_dip_reproduced(table):
    assert C.claim_selffer_dip(table).verdict == C.REPRODUCED


def test_selffer_dip_not_reproduced_for_a_bump():
    df = make_table(override(selffer=lambda n, k: BASE + (0.03 if 3 <= n <= 5 else 0.0)))
    assert C.claim_selffer_dip(df).verdict == C.NOT_REPRODUCED


def test_selffer_dip_inconclusive_without_high_end(table):
    # Without n=6,7 a monotone decline would look like a dip, so there must be no verdict.
    claim = C.claim_selffer_dip(without(table, "selffer", [6, 7]))
    assert claim.verdict == C.INCONCLUSIVE


# --- claim 3: AnB declines with n


def test_transfer_decline_reproduced(table):
    assert C.claim_transfer_declines_with_n(table).verdict == C.REPRODUCED


def test_transfer_decline_not_reproduced_when_anb_improves():
    df = make_table(override(transfer=lambda n, k: BASE + 0.01 * (n - 1)))
    assert C.claim_transfer_declines_with_n(df).verdict == C.NOT_REPRODUCED


def test_transfer_decline_inconclusive_with_one_n():
    df = make_table(ns=[4])
    assert C.claim_transfer_declines_with_n(df).verdict == C.INCONCLUSIVE


def test_transfer_decline_uses_random_splits_only(table):
    # AnB loses 1% per layer on random splits: n=5..7 vs n=1,2 is -4.5%. The dissimilar
    # split declines three times as fast; it must not leak into this effect.
    assert C.claim_transfer_declines_with_n(table).effect == pytest.approx(-0.045, abs=0.005)


# --- claim 4: AnB+ boost


def test_transfer_ft_boost_reproduced(table):
    assert C.claim_transfer_ft_boost(table).verdict == C.REPRODUCED


def test_transfer_ft_boost_not_reproduced_when_anb_plus_is_worse():
    df = make_table(override(transfer_ft=lambda n, k: BASE - 0.02))
    assert C.claim_transfer_ft_boost(df).verdict == C.NOT_REPRODUCED


def test_transfer_ft_boost_inconclusive_without_anb_plus(table):
    assert C.claim_transfer_ft_boost(without(table, "transfer_ft")).verdict == C.INCONCLUSIVE


def test_transfer_ft_boost_effect_is_difference_to_base(table):
    assert C.claim_transfer_ft_boost(table).effect == pytest.approx(0.02, abs=0.003)


def test_a_base_nets_own_noise_widens_the_interval_of_every_cell_compared_with_it(table):
    """AnB+ is 0.5 points above the mean base, but each base net is 2 points off by its
    own training noise (alternately up and down): per base net the 'boost' is -1.5 or
    +2.5 points. Resampled net by net, 84 nets would make +0.5 look certain; resampled by
    base net (12 units), the interval straddles 0."""
    df = make_table(override(transfer_ft=lambda n, k: BASE + 0.005), noise=0.0)
    bases = df.index[df["treatment"] == "base"]
    df.loc[bases, "top1"] += [0.02 if i % 2 else -0.02 for i in range(len(bases))]
    claim = C.claim_transfer_ft_boost(df)
    assert claim.effect == pytest.approx(0.005, abs=1e-9)
    assert claim.ci_low < 0 < claim.ci_high and claim.verdict == C.INCONCLUSIVE
    assert "(resampling 12 base nets)" in claim.detail
    nets = C.pair_with_base(df)
    nets = nets[(nets["treatment"] == "transfer_ft") & (nets["split_kind"] == "random")]
    net_by_net = C.bootstrap_mean((nets["top1"] - nets["base_top1"]).to_numpy())
    assert net_by_net[0] > 0  # what the interval over nets would have claimed


def test_one_or_two_base_nets_give_no_interval():
    df = make_table(splits=["random0"], seeds=[0])
    claim = C.claim_transfer_ft_boost(df)
    assert claim.verdict == C.INCONCLUSIVE
    assert "no interval (2 base nets: fewer than 3 to resample)" in claim.detail


# --- claim 5: dissimilar split drops more


def test_dissimilar_reproduced(table):
    assert C.claim_dissimilar_drops_more(table).verdict == C.REPRODUCED


def test_dissimilar_not_reproduced_when_dissimilar_drops_less():
    slow = override(transfer=lambda n, k: BASE - (0.03 if k == "random" else 0.01) * (n - 1))
    assert C.claim_dissimilar_drops_more(make_table(slow)).verdict == C.NOT_REPRODUCED


def test_dissimilar_inconclusive_without_dissimilar_split():
    df = make_table(splits=("random0", "random1"))
    assert C.claim_dissimilar_drops_more(df).verdict == C.INCONCLUSIVE


# --- claim 6: random frozen layers fall toward chance


def test_random_reproduced(table):
    assert C.claim_random_toward_chance(table).verdict == C.REPRODUCED


def test_random_not_reproduced_when_random_layers_stay_good():
    df = make_table(override(random=lambda n, k: BASE - 0.01))
    assert C.claim_random_toward_chance(df).verdict == C.NOT_REPRODUCED


def test_random_inconclusive_without_random_nets(table):
    assert C.claim_random_toward_chance(without(table, "random")).verdict == C.INCONCLUSIVE


# --- missing pieces, diverged nets


@pytest.mark.parametrize("ns", [[1, 4, 7], [1], [7]])
def test_all_claims_cope_with_a_subset_of_n(ns):
    claims = C.all_claims(make_table(ns=ns))
    assert all(c.verdict in (C.REPRODUCED, C.NOT_REPRODUCED, C.INCONCLUSIVE) for c in claims)


def test_all_claims_inconclusive_on_an_empty_table():
    claims = C.all_claims(make_table().iloc[0:0])
    assert {c.verdict for c in claims} == {C.INCONCLUSIVE}


@pytest.mark.parametrize(
    ("claim", "treatment"),
    [
        (C.claim_selffer_low_n_matches_base, "selffer"),
        (C.claim_selffer_dip, "selffer"),
        (C.claim_transfer_declines_with_n, "transfer"),
        (C.claim_transfer_ft_boost, "transfer_ft"),
        (C.claim_random_toward_chance, "random"),
    ],
)
def test_diverged_net_does_not_change_the_claim(table, claim, treatment):
    assert numbers(claim(with_diverged_copy(table, treatment))) == numbers(claim(table))


def test_diverged_net_is_mentioned_in_the_detail(table):
    claim = C.claim_transfer_ft_boost(with_diverged_copy(table, "transfer_ft"))
    assert "1 diverged net(s)" in claim.detail


def test_diverged_base_does_not_replace_the_real_base(table):
    claim = C.claim_transfer_ft_boost
    assert claim(with_diverged_copy(table, "base")).effect == claim(table).effect


def test_claims_are_deterministic(table):
    assert C.all_claims(table) == C.all_claims(table)


def test_claims_table_has_one_row_per_claim_and_the_agreed_columns(table):
    frame = C.claims_table(C.all_claims(table))
    expected = ["name", "statement", "paper_value", "paper_effect", "effect", "ci_low", "ci_high"]
    assert frame.shape[0] == 7 and list(frame.columns) == [
        *expected,
        "n_nets",
        "verdict",
        "detail",
    ]


# --- markdown


def test_markdown_lists_diverged_nets(table):
    df = with_diverged_copy(table, "transfer_ft")
    bad = df[df["diverged"]].iloc[0]
    text = C.render_markdown(df, C.all_claims(df))
    row = f"| {bad.split} | {bad.target} | transfer_ft | {bad.n} | {bad.seed} |"
    assert "Warning: 1 net(s) diverged" in text and row in text


def test_markdown_is_deterministic(table):
    assert C.render_markdown(table, C.all_claims(table)) == C.render_markdown(
        table, C.all_claims(table)
    )


def test_markdown_says_no_data_for_missing_claims():
    df = make_table(splits=("random0",))
    assert "inconclusive (no data)" in C.render_markdown(df, C.all_claims(df))


def test_markdown_mean_table_shows_display_names(table):
    text = C.render_markdown(table, C.all_claims(table))
    assert "| AnB+ |" in text and "| BnB |" in text
