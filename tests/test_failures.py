"""A net that did not learn, or learned and collapsed, is caught, recorded and never counted."""

from __future__ import annotations

import json
import math

import matplotlib
import pandas as pd
import pytest
import torch

from transferability import grid
from transferability.analysis import figure3
from transferability.analysis.claims import all_claims
from transferability.analysis.claims_report import render_markdown
from transferability.analysis.nets import excluded_nets, pair_with_base, usable_nets
from transferability.analysis.results_table import history_from_metrics, judged, read_metrics
from transferability.training import jobs, status
from transferability.training.sgd import Recipe
from transferability.training.solver import train

from .support import tiny_config
from .synthetic import make_table

pytestmark = pytest.mark.failures

CHANCE = 0.2


def _epoch(epoch, val, loss=0.5, share=0.25, **dead):
    return {"epoch": epoch, "loss": loss, "val_top1": val, "top_class_share": share} | {
        f"dead_{layer}": fraction for layer, fraction in dead.items()
    }


HEALTHY = [_epoch(1, 0.7, fc6=0.1), _epoch(2, 0.8, fc6=0.05), _epoch(3, 0.82, fc6=0.05)]


@pytest.mark.parametrize(
    ("history", "diverged", "expected", "reason"),
    [
        (HEALTHY, False, status.TRAINED, ""),
        (HEALTHY, True, status.DIVERGED, "non-finite"),
        # The loss never left ln 5: its own status, counted only on frozen random layers.
        ([_epoch(1, 0.21, 1.61), _epoch(2, 0.20, 1.61)], False, status.CHANCE, "never left"),
        # The loss left ln k, the validation top-1 never rose: did not learn.
        ([_epoch(1, 0.21, 1.4), _epoch(2, 0.20, 1.3)], False, status.FAILED, "did not learn"),
        # Learned in epoch 1, then fell back: the epoch-1 snapshot must not be reported.
        ([_epoch(1, 0.68), _epoch(2, 0.40), _epoch(3, 0.38)], False, status.FAILED, "fell from"),
        ([_epoch(1, 0.70), _epoch(2, 0.62, share=0.95)], False, status.FAILED, "one class"),
        ([_epoch(1, 0.80, fc6=0.5), _epoch(2, 0.78, fc6=0.97)], False, status.FAILED, "fc6"),
    ],
    ids=[
        "trained",
        "diverged",
        "never-left-chance",
        "never-learned",
        "collapsed",
        "one-class",
        "dead-layer",
    ],
)
def test_status_follows_the_history(history, diverged, expected, reason):
    got, why = status.classify(history, diverged, CHANCE)
    assert got == expected
    assert reason in why and (why == "") == (expected == status.TRAINED)


def test_random_layers_near_chance_are_a_result_not_a_failure():
    """The paper predicts near-chance top-1 for frozen random layers at n >= 3: excluding
    such nets would make that claim impossible to reproduce. A random cell that stays near
    chance with a healthy optimiser is counted; one that collapsed is not."""
    flat = [_epoch(1, 0.22, 1.6, fc7=0.1), _epoch(2, 0.23, 1.6, fc7=0.1)]
    assert status.classify(flat, False, CHANCE)[0] == status.CHANCE
    assert status.classify(flat, False, CHANCE, near_chance_is_a_result=True)[0] == "chance"
    # Its loss left ln k (a little), its top-1 did not: counted on random layers only.
    low = [_epoch(1, 0.22, 1.5, fc7=0.1), _epoch(2, 0.23, 1.6, fc7=0.1)]
    assert status.classify(low, False, CHANCE)[0] == status.FAILED
    assert status.classify(low, False, CHANCE, near_chance_is_a_result=True)[0] == "trained"
    dead = [_epoch(1, 0.22, 1.6, fc7=0.95), _epoch(2, 0.23, 1.6, fc7=0.97)]
    got = status.classify(dead, False, CHANCE, near_chance_is_a_result=True)
    assert got[0] == status.FAILED and "fc7" in got[1]


def _train_random_cell(fake_cache, split_file, out_dir, n=5, target="A", **recipe) -> dict:
    """A random-frozen cell (at n = 5 fc6 trains on frozen random conv features) of the fake
    data, with the default recipe overridden; its metrics."""
    config = tiny_config()
    config["training"]["base"] |= {"epochs": 3} | recipe
    out = out_dir / "metrics.json"
    jobs.train_cell(
        cache=fake_cache,
        split_file=split_file,
        split="random0",
        target=target,
        treatment="random",
        n=n,
        seed=0,
        base=None,
        settings=grid.train_settings(config, "random"),
        threads=1,
        out_metrics=out,
    )
    # What was measured, judged as the aggregate step judges it.
    return judged(json.loads(out.read_text()))


def test_a_collapse_forced_by_a_huge_learning_rate_is_failed_and_not_counted(
    fake_cache, split_file, tmp_path
):
    # lr 30 with clipping keeps the loss finite but kills fc6 in a few steps: the failure the
    # default once showed at lr 0.03 on random features, made certain.
    record = _train_random_cell(fake_cache, split_file, tmp_path, lr=30.0, warmup=0.0)
    assert record["status"] == status.FAILED, record["history"]
    assert not record["diverged"] and record["status_reason"]
    assert all(math.isfinite(h["loss"]) for h in record["history"])

    table = make_table(splits=("random0", "random1", "random2"))
    failed = read_metrics([tmp_path / "metrics.json"])
    table = table.assign(status="trained", status_reason="")
    combined = pd.concat([table, failed.reindex(columns=table.columns)], ignore_index=True)
    assert len(usable_nets(combined)) == len(table)
    assert len(excluded_nets(combined)) == 1
    text = render_markdown(combined, all_claims(combined))
    assert record["status_reason"].split(":")[0] in text and "| failed |" in text

    matplotlib.use("Agg")
    fig, ax = matplotlib.pyplot.subplots()
    paired = pair_with_base(combined)
    figure3._panel_random(ax, usable_nets(combined), excluded_nets(combined), paired)
    markers = [c for c in ax.collections if c.get_label().startswith("diverged or failed")]
    assert len(markers) == 1 and len(markers[0].get_offsets()) == 1


def test_a_normal_tiny_net_is_trained(fake_cache, split_file, tmp_path):
    # 100 images: batch 16 gives the default's lr a few steps per epoch.
    record = _train_random_cell(fake_cache, split_file, tmp_path, batch_size=16, epochs=5)
    assert record["status"] == status.TRAINED and record["status_reason"] == ""
    last = record["history"][-1]
    # The history says why: fc6 and fc7 alive, predictions spread over the classes.
    assert set(k for k in last if k.startswith("dead_")) == {"dead_fc6", "dead_fc7"}
    assert last["dead_fc6"] < status.MAX_DEAD and last["top_class_share"] < 0.9


def test_a_non_finite_loss_is_still_diverged():
    torch.manual_seed(0)
    from transferability.training import models

    net = models.TransferNet("small28", 5, widths=(8, 8, 8, 8, 8, 16, 16))
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 5
    x = torch.randn(64, 1, 28, 28, generator=g)
    data = {part: (x, y) for part in ("train", "val", "test")}
    recipe = Recipe(2, 16, 1e9, 0.9, 0.0, (0.5,), 0.1, 0.0, None)
    with pytest.warns(RuntimeWarning, match="diverged"):
        outcome, _ = train(net, data, recipe, 0, seed=0, log=lambda *_: None)
    assert status.classify(outcome.history, outcome.diverged, CHANCE)[0] == status.DIVERGED


def test_the_history_table_has_one_row_per_net_and_epoch(fake_cache, split_file, tmp_path):
    paths = []
    for n in (5, 7):
        (tmp_path / f"n{n}").mkdir()
        _train_random_cell(fake_cache, split_file, tmp_path / f"n{n}", n=n, target="B", epochs=2)
        paths.append(tmp_path / f"n{n}" / "metrics.json")
    history = history_from_metrics(paths)
    assert len(history) == 4
    assert history.groupby("n")["epoch"].apply(list).to_dict() == {5: [1, 2], 7: [1, 2]}
    assert {"loss", "val_top1", "lr", "top_class_share", "status"} <= set(history.columns)
    # Dead fractions of trainable ReLU layers only: fc6 and fc7 at n = 5, none at n = 7.
    assert history.loc[history["n"] == 5, "dead_fc6"].notna().all()
    assert history.loc[history["n"] == 7, "dead_fc7"].isna().all()
