"""Training: metrics on known predictions, the schedule, determinism and divergence."""

import math
import os
import subprocess
import sys

import pytest
import torch

from transferability.training import models
from transferability.training.evaluation import top1
from transferability.training.sgd import Recipe
from transferability.training.solver import derived_seed, train

from .support import RECIPE, REPO, net, tiny_data


class FixedLogits(torch.nn.Module):
    """A stand-in net whose predictions are given: top-1 must count them exactly."""

    def __init__(self, predictions):
        super().__init__()
        self.logits = torch.nn.functional.one_hot(torch.tensor(predictions), 5).float()

    def forward(self, x, start=0):
        return self.logits[x.view(-1).long()]


def test_top1_counts_correct_predictions():
    fake = FixedLogits([0, 1, 2, 3, 4, 0, 0, 0])
    x, y = torch.arange(8).float(), torch.tensor([0, 1, 2, 3, 4, 1, 1, 1])
    assert top1(fake, x, y) == 5 / 8


def test_top1_over_several_eval_batches():
    predictions = [i % 5 for i in range(2500)]
    fake = FixedLogits(predictions)
    y = torch.tensor(predictions)
    y[:100] = (y[:100] + 1) % 5
    assert top1(fake, torch.arange(2500).float(), y) == 2400 / 2500


def test_learning_rate_warms_up_then_steps_down():
    r = Recipe(10, 1, 0.01, 0.9, 0.0, (0.5, 0.75), 0.1, 0.1, None)
    lrs = [r.lr_at(step, 100) for step in range(100)]
    assert lrs[0] == pytest.approx(0.001) and lrs[9] == pytest.approx(0.01)
    assert lrs[49] == pytest.approx(0.01) and lrs[50] == pytest.approx(0.001)
    assert lrs[75] == pytest.approx(0.0001)


def test_derived_seeds_are_stable_across_processes():
    # crc32, not hash(): the same cell gets the same seed in every job, whatever the salt.
    code = (
        "from transferability.training.solver import derived_seed as d; print(d('random0', 'B', 3))"
    )
    seeds = {
        subprocess.run(
            [sys.executable, "-c", code],
            env=dict(os.environ, PYTHONHASHSEED=salt, PYTHONPATH=str(REPO / "workflow")),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for salt in ("1", "2")
    }
    assert seeds == {str(derived_seed("random0", "B", 3))}


def _train_once(n_frozen: int):
    m = net(7)
    outcome, diagnostics = train(m, tiny_data(1), RECIPE, n_frozen, seed=3, log=lambda *_: None)
    return outcome, m.state_dict()


@pytest.mark.parametrize("n_frozen", [0, 4, 7])
def test_same_seed_gives_the_same_numbers(n_frozen):
    (a, sa), (b, sb) = _train_once(n_frozen), _train_once(n_frozen)
    assert (a.top1, a.val_top1, a.final_loss, a.history) == (
        b.top1,
        b.val_top1,
        b.final_loss,
        b.history,
    )
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_diverged_net_is_detected_and_flagged():
    wild = Recipe(3, 16, 1e12, 0.9, 0.0, (), 0.1, 0.0, None)
    m = net(8)
    with pytest.warns(RuntimeWarning, match="diverged"):
        outcome, _ = train(m, tiny_data(), wild, 0, seed=0, log=lambda *_: None)
    assert outcome.diverged
    assert outcome.epochs_run < 3 or not math.isfinite(outcome.final_loss)


def test_best_validation_epoch_is_the_one_reported():
    outcome, _ = _train_once(0)
    best = max(h["val_top1"] for h in outcome.history)
    assert outcome.val_top1 == best
    assert outcome.history[outcome.best_epoch - 1]["val_top1"] == best


def test_fine_tuning_trains_all_layers_and_frozen_cells_fewer():
    m = net(0)
    models.freeze(m, 5)
    trainable = [p for p in m.parameters() if p.requires_grad]
    assert len(trainable) == 2 * 3  # fc6, fc7, fc8: weight and bias each


def test_momentum_sgd_matches_torch_optim_sgd():
    from transferability.training.sgd import MomentumSGD

    torch.manual_seed(0)
    ours = [torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    reference = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, weight_decay=5e-4)
    sgd = MomentumSGD(ours, momentum=0.9, weight_decay=5e-4)
    for step in range(4):
        lr = 0.1 / (step + 1)
        for params in (ours, theirs):
            (params[0] @ params[1]).pow(2).sum().backward()
        for group in reference.param_groups:
            group["lr"] = lr
        reference.step()
        sgd.step(lr)
        reference.zero_grad()
        sgd.zero_grad()
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_momentum_sgd_clips_as_clip_grad_norm_does():
    from transferability.training.sgd import MomentumSGD

    torch.manual_seed(0)
    ours = [torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    reference = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, weight_decay=5e-4)
    sgd = MomentumSGD(ours, momentum=0.9, weight_decay=5e-4, clip_grad_norm=0.5)
    for _ in range(4):
        for params in (ours, theirs):
            (params[0] @ params[1]).pow(2).sum().backward()
        assert torch.nn.utils.clip_grad_norm_(theirs, 0.5) > 0.5  # clipping happens
        reference.step()
        sgd.step(0.1)
        reference.zero_grad()
        sgd.zero_grad()
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def test_a_frozen_prefix_with_dead_units_is_reported_in_the_log():
    m = net(0)
    with torch.no_grad():
        m.stages[0].weight.bias.fill_(-1e3)  # conv1 outputs zero after ReLU for every image
    lines = []
    _, diagnostics = train(m, tiny_data(), RECIPE, n_frozen=1, seed=0, log=lines.append)
    assert diagnostics["dead_fraction"] == 1.0
    assert any("zero on every training image" in line for line in lines)
