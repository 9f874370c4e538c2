"""The `slurm` profile without a cluster: found by name from the repository root, what it
asks SLURM for, that no setting of it is dropped by the profile merge, which rules run on
the submitting node, and how many jobs grouping saves (Snakemake's dry run)."""

import re

import yaml

from .support import REPO, rules, run_script

WORKFLOW_PROFILE = REPO / "profiles/default/config.yaml"

RESULT = re.compile(r"^RESULT (\S+) (\S+) (\S+)$")


def test_the_user_profile_holds_the_cluster_settings_and_requeues():
    profile = yaml.safe_load((REPO / "slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-requeue"] is True and profile["retries"] >= 1
    assert {"jobs", "cores", "slurm-status-command"} <= profile.keys()
    # cpus_per_task here would override every rule's threads.
    assert "cpus_per_task" not in str(profile.get("default-resources", ""))


def test_the_training_rules_ask_one_gpu_and_no_other_rule_does():
    for name, block in rules().items():
        gpu = name.startswith("train_") or name == "check_driver"  # partition_check.GPU_RULES
        assert ("gpu=True" in block) == gpu, name
    assert 'GPU_GRES = "gpu:1"' in (REPO / "workflow/rules/common.smk").read_text()


def test_the_two_profiles_share_no_key_so_the_merge_drops_nothing():
    """Snakemake replaces a user's top-level key by the workflow profile's: none may meet."""
    user = set(yaml.safe_load((REPO / "slurm/config.yaml").read_text()))
    workflow = set(yaml.safe_load(WORKFLOW_PROFILE.read_text()))
    assert not user & workflow
    assert not {"set-resources", "default-resources"} & workflow  # the user's to set
    # The commented GPU partition goes under set-resources, for the training rules only.
    text = (REPO / "slurm/config.yaml").read_text()
    assert "#   train_base:\n#     slurm_partition: gpu" in text
    lines = text.split("# default-resources:\n")[1].splitlines()
    defaults = [line for line in lines[: next(i for i, x in enumerate(lines) if x[:4] != "#   ")]]
    assert defaults and not [line for line in defaults if "slurm_partition" in line]


def test_seconds_long_rules_run_on_the_submitting_node():
    snakefile = (REPO / "Snakefile").read_text()
    block = re.search(r"^localrules:\n((?:    \w+,?\n)+)", snakefile, re.M)[1]
    assert set(block.replace(",", " ").split()) == {
        "make_split", "task_distance", "aggregate", "figures", "claims", "tables"
    }  # fmt: skip


def test_grouping_cuts_the_default_to_a_few_jobs_and_off_is_one_per_cell():
    results = {
        name: int(value)
        for name, (value, _unit) in run_script("slurm_overhead.py", "--counts", timeout=600).items()
    }
    # 1 prepare_data + 12 train_base + 1 train_reference (make_split, task_distance,
    # aggregate, figures, claims, tables are localrules), plus the 196 cells: one job each,
    # or 35 to a group job (6 groups).
    assert results["default_sbatch_jobs_ungrouped"] == 14 + 196
    assert results["default_sbatch_jobs_grouped"] == 14 + 6
    assert results["tiny_sbatch_jobs_grouped_dry_run"] == 6 + 2  # 40 cells: 35 + 5
    # The paper's grid: prepare_data, store_images, 14 base nets, the reference net + 322
    # cells, one job each; as arrays, one sbatch each for the two data rules and one per
    # training rule.
    assert results["imagenet_sbatch_jobs"] == 2 + 14 + 1 + 322
    assert results["imagenet_sbatch_calls_with_arrays"] == 5
