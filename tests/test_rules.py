"""Every rule declares its log, benchmark, conda environment and resources."""

import re

import pytest
import yaml

from .support import REPO, rules

DIRECTIVES = ("log:", "benchmark:", "conda:", "threads:", "resources:")


def test_the_workflow_has_the_designed_rules():
    assert set(rules()) == {
        "prepare_data",
        "store_images",
        "make_split",
        "train_base",
        "train_cell",
        "train_reference",
        "task_distance",
        "aggregate",
        "figures",
        "claims",
        "tables",
        "make_smoke_images",
        "smoke_report",
        "check_driver",
    }


@pytest.mark.parametrize(("name", "block"), sorted(rules().items()))
def test_rule_declares_log_benchmark_conda_and_resources(name, block):
    for directive in DIRECTIVES:
        assert re.search(rf"^    {directive}", block, flags=re.MULTILINE), f"{name}: {directive}"


@pytest.mark.parametrize(("name", "block"), sorted(rules().items()))
def test_rule_conda_env_exists_and_is_an_environment_file(name, block):
    (env,) = re.findall(r'^    conda:\n        "([^"]+)"', block, flags=re.MULTILINE)
    spec = yaml.safe_load((REPO / "workflow/rules" / env).resolve().read_text())
    assert "conda-forge" in spec["channels"]
    assert any(str(d).startswith("python") for d in spec["dependencies"])
