"""Resumable training: a run killed after any epoch and resumed ends bit for bit where an
uninterrupted run ends (on the CPU); stale or unreadable state is never resumed; the
device is chosen at run time and recorded."""

import dataclasses

import pytest
import torch

from transferability.training import device
from transferability.training.resume_state import ResumeState
from transferability.training.solver import train

from .support import RECIPE, net, tiny_data

RECIPE4 = dataclasses.replace(RECIPE, epochs=4, lr_steps=(0.6,))
SILENT = lambda *_: None  # noqa: E731


class Killed(Exception):
    pass


def killer_after(epoch: int, lines: list):
    """A log that raises on epoch `epoch`'s line, which comes before that epoch's state
    is saved: the process dies with epochs 1..epoch-1 saved."""

    def log(line):
        lines.append(line)
        if line.startswith(f"epoch {epoch}:"):
            raise Killed

    return log


def _outcome_numbers(o):
    return (o.top1, o.val_top1, o.best_epoch, o.epochs_run, o.final_loss, o.history, o.diverged)


@pytest.mark.parametrize("n_frozen", [0, 3, 6])
@pytest.mark.parametrize("killed_at", [2, 4])
def test_killed_and_resumed_equals_uninterrupted(tmp_path, n_frozen, killed_at):
    clean_net = net(7)
    clean, _ = train(clean_net, tiny_data(1), RECIPE4, n_frozen, seed=3, log=SILENT)
    state = ResumeState(tmp_path / "state.pt", key="cell", log=SILENT)
    with pytest.raises(Killed):
        train(net(7), tiny_data(1), RECIPE4, n_frozen, seed=3, log=killer_after(killed_at, []),
              resume=state)  # fmt: skip
    assert state.path.exists()
    lines = []
    resumed_net = net(7)
    resumed, _ = train(
        resumed_net, tiny_data(1), RECIPE4, n_frozen, seed=3, log=lines.append, resume=state
    )
    assert resumed.resumed_from_epoch == killed_at - 1
    assert f"epoch {killed_at - 1} of 4 was done" in lines[0]
    assert _outcome_numbers(resumed) == _outcome_numbers(clean)
    pairs = zip(resumed_net.state_dict().values(), clean_net.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_a_state_saved_under_other_settings_is_not_resumed(tmp_path):
    path = tmp_path / "state.pt"
    with pytest.raises(Killed):
        train(
            net(7),
            tiny_data(1),
            RECIPE4,
            0,
            seed=3,
            log=killer_after(3, []),
            resume=ResumeState(path, key="lr 0.01", log=SILENT),
        )
    lines = []
    other = ResumeState(path, key="lr 0.02", log=lines.append)
    outcome, _ = train(net(7), tiny_data(1), RECIPE4, 0, seed=3, log=lines.append, resume=other)
    assert outcome.resumed_from_epoch == 0
    assert any("starting over" in line for line in lines)


def test_an_unreadable_state_means_starting_over(tmp_path):
    path = tmp_path / "state.pt"
    path.write_bytes(b"PK\x03\x04 truncated")
    lines = []
    outcome, _ = train(
        net(7),
        tiny_data(1),
        RECIPE,
        0,
        seed=3,
        log=lines.append,
        resume=ResumeState(path, key="k", log=lines.append),
    )
    assert outcome.resumed_from_epoch == 0 and outcome.epochs_run == RECIPE.epochs
    assert any("cannot read the saved training state" in line for line in lines)


def test_the_state_is_written_atomically_every_epoch(tmp_path):
    saved = []

    class Recording(ResumeState):
        def save(self, state):
            super().save(state)
            saved.append(torch.load(self.path, weights_only=True)["epoch"])

    train(
        net(7),
        tiny_data(1),
        RECIPE4,
        0,
        seed=3,
        log=SILENT,
        resume=Recording(tmp_path / "s.pt", "k"),
    )
    assert saved == [1, 2, 3, 4]
    assert [p.name for p in tmp_path.iterdir()] == ["s.pt"]  # no temporary left behind


def test_the_device_is_chosen_at_run_time_and_recorded(monkeypatch):
    monkeypatch.setenv(device.DEVICE_ENV, "auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.pick().type == expected
    outcome, _ = train(net(7), tiny_data(1), RECIPE, 0, seed=3, log=SILENT)
    assert outcome.device.split(":")[0] == expected
    monkeypatch.setenv(device.DEVICE_ENV, "cpu")
    assert device.pick().type == "cpu"
    monkeypatch.setenv(device.DEVICE_ENV, "tpu")
    with pytest.raises(ValueError, match="TRANSFERABILITY_DEVICE"):
        device.pick()


def test_autocast_on_the_cpu_follows_the_recipe():
    cpu = torch.device("cpu")
    with device.autocast(cpu, "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with device.autocast(cpu, "bf16", convs=False):  # the fully connected top stays fp32
        assert not torch.is_autocast_enabled("cpu")
    with device.autocast(cpu, "bf16"):
        assert torch.is_autocast_enabled("cpu")
