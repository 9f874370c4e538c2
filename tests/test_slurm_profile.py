"""The `slurm` profile without a cluster: found by name from the repository root, what it
asks SLURM for, and how many jobs grouping saves (Snakemake's dry run)."""

import re

import yaml

from .conftest import REPO
from .test_benchmarks import run_script

RESULT = re.compile(r"^RESULT (\S+) (\S+) (\S+)$")


def test_the_user_profile_holds_the_cluster_settings_and_requeues():
    profile = yaml.safe_load((REPO / "slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-requeue"] is True and profile["retries"] >= 1
    assert {"jobs", "cores", "slurm-status-command"} <= profile.keys()
    # cpus_per_task here would override every rule's threads.
    assert "cpus_per_task" not in str(profile.get("default-resources", ""))


def test_the_workflow_profile_asks_one_gpu_for_training_only():
    profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert profile["set-resources"] == {
        "train_base": {"gres": "gpu:1"},
        "train_cell": {"gres": "gpu:1"},
    }


def test_grouping_cuts_the_default_to_a_few_jobs_and_off_is_one_per_cell():
    results = {
        name: int(value)
        for name, (value, _unit) in run_script("slurm_overhead.py", "--counts", timeout=600).items()
    }
    # 1 prepare_data + 2 make_split + 4 train_base + 4 aggregate/figures/claims/tables, plus the
    # 140 cells: one job each, or 35 to a group job.
    assert results["default_sbatch_jobs_ungrouped"] == 11 + 140
    assert results["default_sbatch_jobs_grouped"] == 11 + 4
    assert results["tiny_sbatch_jobs_grouped_dry_run"] == 11 + 2  # 40 cells: 35 + 5
