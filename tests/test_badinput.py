"""Bad configs fail at start, before any job runs, naming the key and the fix."""

import pytest

from .conftest import snakemake

pytestmark = pytest.mark.badinput

UPPER = ["T-shirt/top", "Pullover", "Dress", "Coat", "Shirt"]
OTHER = ["Trouser", "Sandal", "Sneaker", "Bag", "Ankle boot"]


def fails_at_start(tmp_path, config: dict) -> str:
    result = snakemake(tmp_path, "--dry-run", config=config, timeout=120)
    assert result.returncode != 0
    assert not (tmp_path / "results").exists(), "nothing may be written before the check"
    return result.stdout + result.stderr


def test_unknown_config_key(tmp_path):
    out = fails_at_start(tmp_path, {"training": {"base": {"epoch": 3}}})
    assert "training.base.epoch: unknown key" in out and "'epochs'" in out


def test_unknown_top_level_key(tmp_path):
    out = fails_at_start(tmp_path, {"layer": [1, 2]})
    assert "layer: unknown key" in out and "'layers'" in out


@pytest.mark.parametrize("n", [0, 8])
def test_n_out_of_range(tmp_path, n):
    out = fails_at_start(tmp_path, {"layers": [1, n]})
    assert f"layers.1: {n} is" in out and "1..7" in out


def test_unknown_treatment(tmp_path):
    out = fails_at_start(tmp_path, {"treatments": ["transfer", "AnB"]})
    assert "treatments.1: 'AnB' is not one of" in out


def test_overlapping_groups(tmp_path):
    config = {"splits": {"dissimilar": {"A": [*UPPER, "Bag"], "B": OTHER}}}
    out = fails_at_start(tmp_path, config)
    assert "splits.dissimilar" in out and "['Bag'] are in both A and B" in out


def test_unknown_class_name(tmp_path):
    config = {"splits": {"dissimilar": {"A": [*UPPER[:-1], "Shirts"], "B": OTHER}}}
    out = fails_at_start(tmp_path, config)
    assert "splits.dissimilar.A: unknown class name 'Shirts'" in out
    assert "did you mean 'Shirt'" in out


def test_missing_data_path(tmp_path):
    out = fails_at_start(tmp_path, {"dataset": {"root": str(tmp_path / "no-such-folder")}})
    assert "dataset.root" in out and "does not exist" in out
    assert "apt-get install dataset-fashion-mnist" in out


def test_no_split_at_all(tmp_path):
    out = fails_at_start(tmp_path, {"splits": {"random": 0, "dissimilar": {"enabled": False}}})
    assert "splits: no split to run" in out


def test_wrong_type(tmp_path):
    out = fails_at_start(tmp_path, {"training": {"base": {"lr": "fast"}}})
    assert "training.base.lr: 'fast' is not of type 'number'" in out
