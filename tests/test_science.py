"""The verdicts a reviewer's questions call for (issue 32): the task distance and the slope of
the transfer drop on it, both scales with the scale-dependent flag, the bound a "not
reproduced" sets, the `chance` status, and the random arms as an init x lr grid."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from transferability import grid, treatments
from transferability.analysis import claims, claims_report, distance, nets
from transferability.analysis.stats import beyond_interval, slope_interval
from transferability.training import status
from transferability_runtime import plan

from .support import REPO, resolved
from .synthetic import CHANCE, make_table, override

pytestmark = pytest.mark.science

LN5 = math.log(5)


# ------------------------------------------------------------------------ task distance


def _features(means: list[list[float]], confusion=None) -> dict:
    k = len(means)
    confusion = confusion or [[10 if i == j else 0 for j in range(k)] for i in range(k)]
    return {"classes": [f"c{i}" for i in range(k)], "class_means": means, "confusion": confusion}


def test_distance_is_zero_for_a_split_no_farther_apart_than_within_and_largest_across_clusters():
    # Two clusters of two classes: {0, 1} near the origin, {2, 3} far away.
    features = _features([[0, 0], [0, 1], [10, 0], [10, 1]])
    across = distance.task_distance(features, {"A": [0, 1], "B": [2, 3]})["task_distance"]
    mixed = distance.task_distance(features, {"A": [0, 2], "B": [1, 3]})["task_distance"]
    # Across: pairs (0,2) (0,3) (1,2) (1,3) = 10, 10.05, 10.05, 10; within: 1, 1.
    pairs = [1, 10, math.hypot(10, 1), math.hypot(10, 1), 10, 1]
    expected = ((20 + 2 * math.hypot(10, 1)) / 4 - 1) / (sum(pairs) / 6)
    assert across == pytest.approx(expected)
    assert mixed < 0 < across


def test_confusion_across_is_the_share_of_errors_between_the_halves():
    confusion = [[8, 2, 0, 0], [2, 8, 0, 0], [0, 1, 9, 0], [0, 0, 0, 10]]
    features = _features([[0, 0], [0, 1], [10, 0], [10, 1]], confusion)
    row = distance.task_distance(features, {"A": [0, 1], "B": [2, 3]})
    assert row["confusion_across"] == pytest.approx(1 / 5)  # 1 of 5 errors crosses


def test_the_distance_is_fixed_before_any_transfer_cell_and_reads_none():
    """Its key (plan.py) chains from the data, the splits and the reference net: a change of
    the cells' recipe changes every cell's key and not the distance's; a split seed does."""
    config = resolved({"splits": {"random": 2}})
    paths = plan.output_paths(config, "results")

    def keys(cfg):
        p = plan.Plan(cfg, paths, lambda step: step, "data")
        return p.distance(), p.cell("random0", "A", "transfer", 7, 0)

    before = keys(config)
    other_cells = resolved({"splits": {"random": 2}, "training": {"cell": {"lr": 0.002}}})
    after = keys(other_cells)
    assert after[0] == before[0] and after[1] != before[1]
    other_split = resolved({"splits": {"random": 2, "seed": 7}})
    assert keys(other_split)[0] != before[0]
    # And the rule's inputs: the reference net's features and the split files, nothing else.
    rule = (REPO / "workflow/rules/aggregate.smk").read_text()
    block = rule[rule.index("rule task_distance:") : rule.index("rule aggregate:")]
    inputs = block[block.index("input:") : block.index("output:")]
    assert "REFERENCE_FEATURES" in inputs and "split_files()" in inputs
    assert "metrics" not in inputs and "BASE_DIR" not in inputs and "CELL_DIR" not in inputs


# ------------------------------------------------------------------------ the slope


def test_slope_interval_recovers_a_known_slope_and_its_interval_covers_it():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 0.3, 15)
    z = rng.normal(0.9, 0.02, 15)
    exact = slope_interval(2.0 - 1.5 * x + 0.4 * z, x, z)
    assert exact[0] == pytest.approx(-1.5) and exact[2] == pytest.approx(0.4)
    covered = 0
    for seed in range(40):
        noise = np.random.default_rng(seed).normal(0, 0.05, 15)
        slope, (low, high), _ = slope_interval(2.0 - 1.5 * x + 0.4 * z + noise, x, z)
        covered += low <= -1.5 <= high
    assert 34 <= covered <= 40  # 95% intervals: about 38 of 40
    # Too few splits for three coefficients and a degree of freedom: no interval.
    assert math.isnan(slope_interval([1, 2, 3], [0, 1, 2], [0, 1, 3])[1][0])


def _distance_table(slope_per_unit: float, splits: int = 12) -> pd.DataFrame:
    """AnB at n = 7 drops by `slope_per_unit` x distance (of the base's gain), distances
    spread over [0, 0.3]; everything else as synthetic.make_table makes it."""
    names = [f"random{i}" for i in range(splits)] + ["dissimilar"]
    table = make_table(
        override(transfer=lambda n, kind: 0.60 - 0.01 * (n - 1)),  # the same drop on every kind
        splits=names,
        seeds=[0],
        treatments=["transfer"],
        ns=[1, 7],
        noise=0.001,
    )
    spread = {name: 0.3 * i / splits for i, name in enumerate(names)}
    table["task_distance"] = table["split"].map(spread)
    gain = 0.60 - CHANCE
    high = (table["treatment"] == "transfer") & (table["n"] == 7)
    table.loc[high, "top1"] += slope_per_unit * table.loc[high, "task_distance"] * gain
    return table


def test_the_distance_claim_follows_a_known_slope():
    steep = claims.evaluate(claims.BY_NAME["transfer_falls_with_distance"], _distance_table(-1.0))
    # -1.0 per unit of distance over the range 0 .. 0.3: -30% of the gain, well past
    # the -5.75% margin.
    assert steep.verdict == claims.REPRODUCED
    assert steep.gain_effect == pytest.approx(-0.3, abs=0.02)
    assert steep.n_units == 13 and "target A" in steep.detail and "target B" in steep.detail
    flat = claims.evaluate(claims.BY_NAME["transfer_falls_with_distance"], _distance_table(0.0))
    assert flat.verdict == claims.NOT_REPRODUCED
    assert "excludes the effect > " in flat.detail
    none = claims.evaluate(
        claims.BY_NAME["transfer_falls_with_distance"],
        _distance_table(-1.0).drop(columns="task_distance"),
    )
    assert none.verdict == claims.INCONCLUSIVE and "task_distance" in none.detail


def test_the_two_group_comparison_has_the_partition_as_its_unit():
    table = _distance_table(-1.0)
    claim = claims.evaluate(claims.BY_NAME["dissimilar_drops_more"], table)
    assert claim.n_units == 13  # 12 random partitions and the one dissimilar
    assert "1 partition" in claim.detail and "by target half: A " in claim.detail
    assert claims.BY_NAME["dissimilar_drops_more"].ns == (7,)
    # One draw against the spread of k: the interval is a prediction interval.
    low, high = beyond_interval(0.0, [1.0, 2.0, 3.0])
    assert (low + high) / 2 == pytest.approx(-2.0)
    assert high - low == pytest.approx(2 * 4.302653 * 1.0 * math.sqrt(4 / 3), rel=1e-4)


# ------------------------------------------------------------------------ both scales


def _boost_table(boost: float, base: float) -> pd.DataFrame:
    def effect(treatment: str, n: int, kind: str) -> float:
        return base + (boost if treatment == "transfer_ft" else 0.0)

    return make_table(
        effect,
        splits=[f"random{i}" for i in range(8)],
        seeds=[0],
        treatments=["selffer_ft", "transfer_ft"],
        noise=0.0005,
        base_noise=0.0005,
    )


def test_a_claim_whose_verdict_differs_on_the_error_scale_says_scale_dependent():
    # +0.5 points over a base at 94%: 0.7% of the gain (short of +0.75%), 8% of the error.
    claim = claims.evaluate(claims.BY_NAME["transfer_ft_boost"], _boost_table(0.005, 0.94))
    assert claim.verdict != claim.error_verdict == claims.REPRODUCED
    assert claim.scale_dependent and "Scale-dependent" in claim.detail
    assert "(scale-dependent)" in claims_report.verdict_words(claim)
    # Where both scales agree, no flag.
    clear = claims.evaluate(claims.BY_NAME["transfer_ft_boost"], _boost_table(0.05, 0.60))
    assert clear.verdict == clear.error_verdict == claims.REPRODUCED
    assert not clear.scale_dependent
    assert clear.paper_error_effect == pytest.approx(0.016 / 0.375)


def test_a_not_reproduced_verdict_states_what_it_excludes():
    claim = claims.evaluate(claims.BY_NAME["transfer_ft_boost"], _boost_table(0.0, 0.60))
    assert claim.verdict == claims.NOT_REPRODUCED
    assert "AnB+ - BnB+ < +" in claim.bound and "points" in claim.bound
    upper = 100 * claim.control_ci_high
    assert f"AnB+ - BnB+ < {upper:+.2f} points" in claim.bound


# ------------------------------------------------------------------------ chance status


def _history(losses, dead=0.0, val=0.5):
    return [{"loss": x, "val_top1": val, "dead_fc6": dead, "top_class_share": 0.3} for x in losses]


def test_chance_status_learned_never_left_ln_k_and_dead_layer():
    learned = status.classify(_history([1.2, 0.6, 0.4], val=0.9), False, 0.2)
    assert learned == (status.TRAINED, "")
    never = status.classify(_history([LN5, 0.98 * LN5, LN5], val=0.21), False, 0.2, True)
    assert never[0] == status.CHANCE and "never left chance" in never[1]
    # A validation epoch that jumps while the loss never leaves ln k is still chance.
    jumped = status.classify(_history([LN5, 0.975 * LN5], val=0.5), False, 0.2, True)
    assert jumped[0] == status.CHANCE
    dead = status.classify(_history([LN5, LN5], dead=0.95, val=0.2), False, 0.2, True)
    assert dead[0] == status.FAILED and "zero on every validation image" in dead[1]
    # Not a random arm: the same history is chance too (and counted nowhere).
    assert status.classify(_history([LN5, LN5], val=0.2), False, 0.2)[0] == status.CHANCE


def test_chance_nets_count_in_the_random_claims_only():
    table = make_table(splits=["random0", "random1", "random2"], seeds=[0])
    at = (table["n"] == 5) & table["treatment"].isin(["random", "transfer"])
    table.loc[at, ["status", "status_reason"]] = ["chance", "never left chance"]
    used = nets.usable_nets(table)
    kept = used[used["n"] == 5]["treatment"].value_counts()
    assert kept.get("random", 0) == 6 and kept.get("transfer", 0) == 0
    line = claims_report._nets_line(table)
    assert "12 chance" in line and "never left chance" in line


# ------------------------------------------------------------------------ random arms


def test_the_random_arms_are_init_by_lr_and_the_study_runs_all_four():
    arms = {
        (t.init, t.lr_scale): t.name
        for t in treatments.REGISTRY
        if t.is_cell and treatments.is_random(t.name)
    }
    assert set(arms) == {(i, s) for i in (treatments.HE, treatments.CAFFE) for s in (1.0, 0.25)}
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert set(arms.values()) <= set(schema["definitions"]["treatment"]["enum"])
    config = resolved({})
    for (_, scale), name in arms.items():
        assert grid.recipe(config, name)["lr"] == pytest.approx(
            scale * grid.recipe(config, "transfer")["lr"]
        )
    study = yaml.safe_load((REPO / "config/study.yaml").read_text())
    assert set(arms.values()) <= set(study["treatments"])
    counts = {study["splits"]["treatment_splits"][name] for name in arms.values()}
    assert len(counts) == 1  # the same splits and seeds for every arm
