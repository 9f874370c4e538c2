"""The grid: which nets a config asks for, and the settings each depends on."""

import copy

import pytest
import yaml

from transferability import grid
from transferability.errors import ConfigError

from .support import REPO


@pytest.fixture
def config():
    raw = yaml.safe_load((REPO / "config/config.yaml").read_text())
    return copy.deepcopy(raw)


def test_default_grid_is_at_least_the_papers_shape(config):
    cells = grid.cells(config)
    assert {c.split for c in cells} == {"random0", "random1", "random2", "dissimilar"}
    assert {c.target for c in cells} == {"A", "B"}
    assert {c.n for c in cells} == set(range(1, 8))
    assert len({c.treatment for c in cells}) == 5
    # Fine-tuned cells on random0 only (they need converged nets; the study has them).
    fine_tuned = {c.split for c in cells if c.treatment.endswith("_ft")}
    assert fine_tuned == {"random0"}
    assert len(cells) + len(grid.bases(config)) == 208


def test_default_grid_gives_every_claim_three_independent_units(config):
    """Transfer claims resample (split, seed) groups; the dissimilar claim its seeds."""
    cells = grid.cells(config)
    random_groups = {(c.split, c.seed) for c in cells if c.split.startswith("random")}
    dissimilar = [c for c in cells if c.split == "dissimilar"]
    assert len(random_groups) >= 3
    assert len({c.seed for c in dissimilar}) >= 3
    # As in the paper, only transfer (AnB) cells on the dissimilar split.
    assert {c.treatment for c in dissimilar} == {"transfer"}
    bases = grid.bases(config)
    assert {(b.split, b.seed) for b in bases} >= {(c.split, c.seed) for c in cells}


@pytest.mark.parametrize(
    ("treatment", "target", "source"),
    [
        ("selffer", "B", "B"),
        ("selffer_ft", "A", "A"),
        ("transfer", "B", "A"),
        ("transfer_ft", "A", "B"),
        ("random", "B", "none"),
    ],
)
def test_each_treatment_copies_from_the_right_half(treatment, target, source):
    assert grid.source_half(treatment, target) == source


def test_fine_tune_settings_reach_only_the_fine_tuned_cells(config):
    base_lr = config["training"]["base"]["lr"]
    config["training"]["finetune"] = {"lr": base_lr / 7}
    assert grid.recipe(config, "transfer_ft")["lr"] == base_lr / 7
    assert grid.recipe(config, "selffer_ft")["lr"] == base_lr / 7
    assert grid.recipe(config, "transfer")["lr"] == base_lr
    assert grid.recipe(config, "base")["lr"] == base_lr


def test_a_treatments_own_settings_reach_only_its_cells(config):
    base_lr = config["training"]["base"]["lr"]
    config["training"]["finetune"] = {"lr": base_lr / 7}
    config["training"]["by_treatment"] = {
        "random_paper": {"lr": base_lr / 4},
        "selffer_ft": {"epochs": 2},
    }
    assert grid.recipe(config, "random_paper")["lr"] == base_lr / 4
    assert grid.recipe(config, "random")["lr"] == base_lr
    assert grid.recipe(config, "base")["lr"] == base_lr
    # Applied last: over training.finetune for a fine-tuned treatment.
    assert grid.recipe(config, "selffer_ft") == {**grid.recipe(config, "transfer_ft"), "epochs": 2}
    assert grid.recipe(config, "selffer_ft")["lr"] == base_lr / 7


def test_a_treatments_bad_lr_steps_name_its_key(config):
    config["training"]["by_treatment"] = {"random": {"lr_steps": [0.9, 0.5]}}
    with pytest.raises(ConfigError, match=r"training\.by_treatment\.random\.lr_steps"):
        grid.validate(config)


def test_cell_settings_do_not_reach_the_base_nets(config):
    config["training"]["cell"] = {"epochs": 3}
    assert grid.recipe(config, "random")["epochs"] == 3
    assert grid.recipe(config, "base")["epochs"] == config["training"]["base"]["epochs"]


def test_random_splits_get_consecutive_seeds(config):
    config["splits"]["random"] = 3
    seeds = [grid.split_settings(config, f"random{i}")["seed"] for i in range(3)]
    assert seeds == [config["splits"]["seed"] + i for i in range(3)]
