"""What going through SLURM costs, and what grouping the cells saves.

1. Wall time of the tiny workflow (TINY of tests/test_workflow.py: 4 base nets, 40 cells)
   run locally (`snakemake --cores N`) and through the local one-node SLURM cluster of
   tests/slurm/cluster.sh with the repository's `slurm` profile (`snakemake --profile
   slurm`, with the test's local-cluster overrides). Needs root; starts the cluster if it
   is not up and stops it afterwards if it started it.
2. The number of sbatch jobs a cluster run of the embedded default submits, with the cells
   grouped (the default) and not (cluster.group_cells: false), counted from Snakemake's
   own dry run with the slurm profile: every job it would submit, a group job counting
   once. For the tiny run the same count is checked against the jobs really submitted.

    .venv/bin/python benchmarks/slurm_overhead.py            # all (about 10 min on 2 cores)
    .venv/bin/python benchmarks/slurm_overhead.py --counts   # only the job counts (seconds)

Prints `RESULT <name> <value> <unit>` lines.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _snakemake_run import copy_repository, venv_env

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests/slurm/cluster.sh"
TINY = {
    "subset": {"train_per_class": 40, "val_per_class": 10, "test_per_class": 20},
    "layers": [1, 7],
    "training": {"base": {"epochs": 1}},
}
UNGROUPED = {"cluster": {"group_cells": False}}
# A job Snakemake would submit: a rule at the top level of the dry run (group members are
# indented under their "Group job" line). `all` has no command: Snakemake runs it itself
# ("localrule all" in a real run), so it is no sbatch job.
TOP_LEVEL_JOB = re.compile(r"^(rule (?!all:)\w+:|\[.*\] Group job )")


def result(name: str, value, unit: str) -> None:
    print(f"RESULT {name} {value} {unit}", flush=True)


def snakemake(workdir: Path, *args: str, timeout: float = 3600) -> tuple[str, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{out.stderr[-3000:]}")
    return out.stdout + out.stderr, seconds


def submitted_jobs_in_dry_run(workdir: Path, *configs: dict) -> int:
    args = ["--profile", "slurm", "-n"]
    for i, config in enumerate(configs):
        path = workdir / f"count{i}.yaml"
        path.write_text(yaml.safe_dump(config))
        args += ["--configfile", path.name]
    log, _ = snakemake(workdir, *args)
    return sum(bool(TOP_LEVEL_JOB.match(line)) for line in log.splitlines())


def counts(workdir: Path) -> None:
    grouped = submitted_jobs_in_dry_run(workdir)
    ungrouped = submitted_jobs_in_dry_run(workdir, UNGROUPED)
    result("default_sbatch_jobs_grouped", grouped, "jobs")
    result("default_sbatch_jobs_ungrouped", ungrouped, "jobs")
    result("tiny_sbatch_jobs_grouped_dry_run", submitted_jobs_in_dry_run(workdir, TINY), "jobs")


def cluster(command: str) -> None:
    subprocess.run([str(CLUSTER), command], check=True, timeout=300)


def wall_times(tmp: Path, cores: int) -> None:
    local = copy_repository(tmp / "local")
    (local / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    _, local_seconds = snakemake(local, "--cores", str(cores), "--configfile", "tiny.yaml")

    was_up = (
        "slurmctld -"
        not in subprocess.run([str(CLUSTER), "status"], capture_output=True, text=True).stdout
    )
    if not was_up:
        cluster("start")
    try:
        on_slurm = copy_repository(tmp / "slurm")
        (on_slurm / "tiny.yaml").write_text(yaml.safe_dump(TINY))
        log, slurm_seconds = snakemake(
            on_slurm,
            "--profile", "slurm", "--configfile", "tiny.yaml", "--cores", str(cores),
            "--slurm-init-seconds-before-status-checks", "1",
        )  # fmt: skip
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
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="slurm-overhead-") as tmp:
        counts(copy_repository(Path(tmp) / "counts"))
        if not args.counts:
            wall_times(Path(tmp), args.cores)


if __name__ == "__main__":
    main()
