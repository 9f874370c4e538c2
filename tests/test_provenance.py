"""The code fingerprint covers exactly the package modules a step runs."""

import pytest

from transferability import provenance


def test_training_covers_the_training_code_and_not_the_plots():
    modules = provenance.modules_of("train-cell")
    assert {"cells", "training", "models", "splits", "datasets"} <= set(modules)
    assert not {"plots", "claims", "summary", "cli"} & set(modules)


def test_figures_cover_the_plots_and_not_the_training_code():
    modules = provenance.modules_of("figures")
    assert {"plots", "summary", "claims"} <= set(modules)
    assert not {"training", "cells", "models"} & set(modules)


def test_steps_running_different_code_have_different_fingerprints():
    prints = {step: provenance.code_fingerprint(step) for step in provenance.STEP_MODULES}
    assert prints["train-base"] == prints["train-cell"]
    assert len({prints[s] for s in ("prepare-data", "train-cell", "figures", "aggregate")}) == 4


def test_the_environment_records_software_versions_and_the_fingerprint():

    record = provenance.environment("train-cell")
    assert record["torch_version"] and record["torchvision_version"]
    assert record["code_fingerprint"] == provenance.code_fingerprint("train-cell")
    assert provenance.version("no-such-distribution-xyz") is None


def test_an_unknown_step_is_named():
    with pytest.raises(KeyError, match="unknown step 'train'"):
        provenance.modules_of("train")
