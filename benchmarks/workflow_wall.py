"""Wall time of the whole default workflow (`make demo`'s grid) and the job time per rule.

Copies the workflow (Snakefile, workflow/, config/, envs/) into a fresh temporary folder,
runs `snakemake --cores N` there with this interpreter's environment first on PATH (what
`make demo` does, minus creating the venv), and prints `RESULT <name> <value> <unit>`:
the wall time of the run, and for every rule the number of jobs and the sums of the `s`
(wall) and `cpu_time` columns of its benchmark files (results/benchmarks/<rule>/...tsv).

    .venv/bin/python benchmarks/workflow_wall.py                  # the default: ~10 min
    .venv/bin/python benchmarks/workflow_wall.py --configfile tiny.yaml
    .venv/bin/python benchmarks/workflow_wall.py --no-shared-process   # each job its own process

What the warm shared training process (transferability_runtime/shared_process.py) buys is
the ratio of the two default runs' `workflow_wall_seconds`, measured one after the other.

Run the default on an otherwise idle machine: every other process shares the cores.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml
from _snakemake_run import snakemake, venv_env

REPO = Path(__file__).resolve().parents[1]
COPIED = ("Snakefile", "workflow", "config", "envs", "profiles")
# --quick: the dissimilar split's 2 base nets and 2 frozen-random cells, one epoch.
QUICK = {
    "subset": {"train_per_class": 10, "val_per_class": 5, "test_per_class": 5},
    "splits": {"random": 0, "dissimilar": {"seeds": [0], "treatments": ["random"]}},
    "layers": [7],
    "training": {"base": {"epochs": 1, "batch_size": 50}},  # a half's 50 images
}


def rule_totals(benchmarks: Path) -> dict[str, tuple[int, float, float]]:
    """rule -> (jobs, summed wall seconds, summed CPU seconds) from the benchmark files."""
    totals: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for tsv in sorted(benchmarks.rglob("*.tsv")):
        rule = tsv.relative_to(benchmarks).parts[0].removesuffix(".tsv")
        with tsv.open() as f:
            for row in csv.DictReader(f, delimiter="\t"):
                totals[rule][0] += 1
                totals[rule][1] += float(row["s"])
                totals[rule][2] += float(row.get("cpu_time") or "nan")
    return {rule: tuple(values) for rule, values in sorted(totals.items())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--configfile", type=Path, help="overrides merged over the default config")
    p.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    p.add_argument("--quick", action="store_true", help="4 nets of 1 epoch: checks it runs")
    p.add_argument(
        "--no-shared-process",
        action="store_true",
        help="every training job imports torch in its own process (no warm shared process)",
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick and not args.configfile:
            args.configfile = Path(tmp) / "quick.yaml"
            args.configfile.write_text(yaml.safe_dump(QUICK))
        work = args.keep or Path(tmp) / "run"
        work.mkdir(parents=True)
        for name in COPIED:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, work / name)
        extra = ["--configfile", str(args.configfile.resolve())] if args.configfile else []
        shared = "0" if args.no_shared_process else "1"
        env = venv_env() | {"TRANSFERABILITY_SHARED_PROCESS": shared}
        cores = ["--cores", str(args.cores)]
        run = snakemake(work, *cores, *extra, clone=True, check=True, env=env)
        wall = run.seconds
        print(f"RESULT shared_process {0 if args.no_shared_process else 1} on")
        print(f"RESULT workflow_wall_seconds {wall:.1f} s")
        print(f"RESULT workflow_cores {args.cores} cores")
        all_jobs = all_seconds = all_cpu = 0.0
        for rule, (jobs, seconds, cpu) in rule_totals(work / "results/benchmarks").items():
            print(f"RESULT rule_{rule}_jobs {jobs} jobs")
            print(f"RESULT rule_{rule}_job_seconds {seconds:.1f} s")
            print(f"RESULT rule_{rule}_cpu_seconds {cpu:.1f} s")
            all_jobs, all_seconds, all_cpu = all_jobs + jobs, all_seconds + seconds, all_cpu + cpu
        print(f"RESULT all_rules_jobs {all_jobs:.0f} jobs")
        print(f"RESULT all_rules_job_seconds {all_seconds:.1f} s")
        # CPU time is what the jobs would take on idle cores: on a shared machine
        # all_rules_cpu_seconds / cores estimates the idle wall time (minus start-up waits).
        print(f"RESULT all_rules_cpu_seconds {all_cpu:.1f} s")
        # Job time over wall time: how well the cores were kept busy.
        print(f"RESULT core_utilisation {all_seconds / wall / args.cores:.2f} x")


if __name__ == "__main__":
    main()
