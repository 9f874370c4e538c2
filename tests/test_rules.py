"""Every rule declares its log, benchmark, conda environment and resources."""

import re

import pytest
import yaml

from .conftest import REPO

RULE_FILES = sorted((REPO / "workflow/rules").glob("*.smk"))
DIRECTIVES = ("log:", "benchmark:", "conda:", "threads:", "resources:")


def rules() -> dict[str, str]:
    """Rule name -> the text of its block, from every rule file."""
    found = {}
    for path in RULE_FILES:
        blocks = re.split(r"^rule (\w+):\n", path.read_text(), flags=re.MULTILINE)
        found |= dict(zip(blocks[1::2], blocks[2::2], strict=True))
    return found


def test_the_workflow_has_the_designed_rules():
    assert set(rules()) == {
        "prepare_data",
        "make_split",
        "train_base",
        "train_cell",
        "aggregate",
        "figures",
        "claims",
        "tables",
        "make_smoke_images",
        "smoke_report",
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
