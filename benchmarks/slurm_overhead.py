"""What going through SLURM costs, and what grouping the cells saves.

1. Wall time of the tiny workflow (TINY of tests/test_workflow.py: 4 base nets, 40 cells)
   run locally (`snakemake --cores N`) and through the local one-node SLURM cluster of
   tests/slurm/cluster.sh with the repository's `slurm` profile (`snakemake --profile
   slurm`, with the test's local-cluster overrides). Needs root; starts the cluster if it
   is not up and stops it afterwards if it started it.
2. The number of sbatch jobs a cluster run of the embedded default submits, with the cells
   grouped (the default) and not (cluster.group_cells: false), counted from Snakemake's
   own dry run with the slurm profile: every job it would submit, a group job counting
   once, the Snakefile's `localrules` (run on the submitting node) not at all. For the
   tiny run the same count is checked against the jobs really submitted.
3. The same for config/imagenet.yaml (the paper's grid, one job per cell), on a tiny
   ImageFolder of real wnids (the grid does not depend on the images): sbatch jobs one per
   net, and the sbatch calls with `slurm-array-jobs: train_base,train_cell` — computed,
   not measured, from the dry run's jobs per rule by the installed plugin's rule
   (snakemake-executor-plugin-slurm 2.8.0, `run_jobs`: an array-selected rule is submitted
   once all its pending jobs are ready, in chunks of at most `slurm-array-limit`, 1000).

    .venv/bin/python benchmarks/slurm_overhead.py            # all (about 10 min on 2 cores)
    .venv/bin/python benchmarks/slurm_overhead.py --counts   # only the job counts (seconds)

Prints `RESULT <name> <value> <unit>` lines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from _snakemake_run import TINY, copy_repository, snakemake

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests/slurm/cluster.sh"
UNGROUPED = {"cluster": {"group_cells": False}}
# A job Snakemake would submit: a rule at the top level of the dry run (group members are
# indented under their "Group job" line), except `all` (no command: Snakemake runs it
# itself) and the Snakefile's localrules (the dry run does not mark them).
TOP_LEVEL_JOB = re.compile(r"^(?:rule (\w+):|\[.*\] Group job )")
LOCAL_RULES = {
    "all",
    *re.search(r"^localrules:\n((?:    \w+,?\n)+)", (REPO / "Snakefile").read_text(), re.M)[1]
    .replace(",", " ")
    .split(),
}
ARRAY_RULES = ("train_base", "train_cell")
ARRAY_LIMIT = 1000  # the plugin's default slurm-array-limit


def result(name: str, value, unit: str) -> None:
    print(f"RESULT {name} {value} {unit}", flush=True)


def in_clone(workdir: Path, *args: str):
    """snakemake ARGS in a copy of the repository; exits when it fails."""
    return snakemake(workdir, *args, clone=True, timeout=3600, check=True)


def jobs_per_rule_in_dry_run(workdir: Path, *configs: dict) -> dict[str, int]:
    """Jobs the dry run would submit, per rule (a group job under "group")."""
    args = ["--profile", "slurm", "-n"]
    names = []
    for i, config in enumerate(configs):
        (workdir / f"count{i}.yaml").write_text(yaml.safe_dump(config))
        names.append(f"count{i}.yaml")
    if names:  # one --configfile with every file: a second --configfile replaces the first
        args += ["--configfile", *names]
    log = in_clone(workdir, *args).output
    jobs: dict[str, int] = {}
    for line in log.splitlines():
        if match := TOP_LEVEL_JOB.match(line):
            rule = match[1] or "group"
            if rule not in LOCAL_RULES:
                jobs[rule] = jobs.get(rule, 0) + 1
    return jobs


def submitted_jobs_in_dry_run(workdir: Path, *configs: dict) -> int:
    return sum(jobs_per_rule_in_dry_run(workdir, *configs).values())


def sbatch_calls_with_arrays(jobs: dict[str, int]) -> int:
    return sum(
        -(-count // ARRAY_LIMIT) if rule in ARRAY_RULES and count > 1 else count
        for rule, count in jobs.items()
    )


def imagenet_counts(workdir: Path) -> None:
    sys.path[:0] = [str(REPO), str(REPO / "workflow")]
    from tests.fullscale import write_imagefolder

    root = write_imagefolder(workdir / "imagenet-tiny", train_per_class=1, val_per_class=1)
    jobs = jobs_per_rule_in_dry_run(
        workdir, yaml.safe_load((REPO / "config/imagenet.yaml").read_text()),
        {"dataset": {"root": str(root)}},
    )  # fmt: skip
    result("imagenet_sbatch_jobs", sum(jobs.values()), "jobs")
    result("imagenet_sbatch_calls_with_arrays", sbatch_calls_with_arrays(jobs), "calls")


def counts(workdir: Path) -> None:
    grouped = submitted_jobs_in_dry_run(workdir)
    ungrouped = submitted_jobs_in_dry_run(workdir, UNGROUPED)
    result("default_sbatch_jobs_grouped", grouped, "jobs")
    result("default_sbatch_jobs_ungrouped", ungrouped, "jobs")
    result("tiny_sbatch_jobs_grouped_dry_run", submitted_jobs_in_dry_run(workdir, TINY), "jobs")
    imagenet_counts(workdir)


def cluster(command: str) -> None:
    subprocess.run([str(CLUSTER), command], check=True, timeout=300)


# The local cluster's GPU gres is /dev/null: a job SLURM gives it would refuse to train on
# the CPU (training/device.py) unless the CPU is declared, as tests/slurm does.
ON_THE_CPU = {"device": "cpu"}
# --quick: 2 base nets and 2 frozen-random cells of one epoch, on SLURM and locally.
QUICK = {
    "subset": {"train_per_class": 10, "val_per_class": 5, "test_per_class": 5},
    "splits": {"random": 0, "dissimilar": {"seeds": [0], "treatments": ["random"]}},
    "layers": [7],
    "training": {"base": {"epochs": 1, "batch_size": 50}},  # a half's 50 images
}


def cluster_missing() -> str | None:
    """Why the local cluster of tests/slurm/cluster.sh cannot start here, or None."""
    if os.geteuid() != 0:
        return "it needs root"
    missing = [t for t in ("slurmctld", "slurmd", "munged") if shutil.which(t) is None]
    return f"{', '.join(missing)} not installed (make slurm-packages)" if missing else None


def wall_times(tmp: Path, cores: int, grid: dict) -> None:
    if reason := cluster_missing():
        print(f"# wall times through SLURM skipped: no local cluster ({reason})", flush=True)
        return
    grid = grid | ON_THE_CPU
    local = copy_repository(tmp / "local")
    (local / "tiny.yaml").write_text(yaml.safe_dump(grid))
    local_seconds = in_clone(local, "--cores", str(cores), "--configfile", "tiny.yaml").seconds

    was_up = (
        "slurmctld -"
        not in subprocess.run([str(CLUSTER), "status"], capture_output=True, text=True).stdout
    )
    if not was_up:
        cluster("start")
    try:
        on_slurm = copy_repository(tmp / "slurm")
        (on_slurm / "tiny.yaml").write_text(yaml.safe_dump(grid))
        run = in_clone(
            on_slurm,
            "--profile", "slurm", "--configfile", "tiny.yaml", "--cores", str(cores),
            "--slurm-init-seconds-before-status-checks", "1",
            # The local cluster's one partition for the GPU rules (the shipped profile
            # leaves the partition to the user, and a run without one stops at start).
            "--set-resources", "train_base:slurm_partition=debug",
            "train_cell:slurm_partition=debug", "train_reference:slurm_partition=debug",
            "check_driver:slurm_partition=debug",
        )  # fmt: skip
        log, slurm_seconds = run.output, run.seconds
    finally:
        if not was_up:
            cluster("stop")
    result("tiny_local_seconds", round(local_seconds, 1), "s")
    result("tiny_slurm_seconds", round(slurm_seconds, 1), "s")
    result("tiny_slurm_vs_local_wall_ratio", round(slurm_seconds / local_seconds, 2), "x")
    result("tiny_sbatch_jobs_submitted", log.count("has been submitted with SLURM jobid"), "jobs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--counts", action="store_true", help="only the dry-run job counts")
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--quick", action="store_true", help="wall times of 4 nets: checks it runs")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="slurm-overhead-") as tmp:
        counts(copy_repository(Path(tmp) / "counts"))
        if not args.counts:
            wall_times(Path(tmp), args.cores, QUICK if args.quick else TINY)


if __name__ == "__main__":
    main()
