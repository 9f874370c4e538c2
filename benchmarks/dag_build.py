"""How long Snakemake takes to build the DAG of a paper-scale grid (a dry run, nothing trained).

The grid: 10 splits (9 random + the dissimilar one) x 2 targets x 7 values of n x 5
treatments x 3 seeds = 2,100 cells, plus 60 base nets. The time is the wall time of the
whole `snakemake --dry-run` command (start-up, config checks, parsing, DAG, job
listing), so it bounds the DAG build from above.

Prints `RESULT dag_build_seconds <median of --repeat runs> s` and the number of cells and
jobs. `--cprofile` runs it once in-process under cProfile and lists the most expensive
functions, those of this workflow first (the place to look if it ever gets slow).

    .venv/bin/python benchmarks/dag_build.py [--repeat 3] [--smoke] [--cprofile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _snakemake_run import REPO, snakemake, snakemake_args

TREATMENTS = ["selffer", "transfer", "selffer_ft", "transfer_ft", "random"]
PAPER_SCALE = {
    # Every treatment and seed on the dissimilar split too (merged over the default's keys).
    "splits": {
        "random": 9,
        "treatment_splits": {"selffer_ft": 9, "transfer_ft": 9},  # all: not the default's 1
        "dissimilar": {"enabled": True, "seeds": [0, 1, 2], "treatments": TREATMENTS},
    },
    "seeds": [0, 1, 2],
    "layers": [1, 2, 3, 4, 5, 6, 7],
    "treatments": TREATMENTS,
}
SMOKE = PAPER_SCALE | {"splits": {"random": 1, "dissimilar": {"enabled": False}}, "seeds": [0]}


def cells(config: dict) -> int:
    splits = config["splits"]["random"] + config["splits"]["dissimilar"]["enabled"]
    return splits * 2 * len(config["layers"]) * len(config["treatments"]) * len(config["seeds"])


def profile(workdir: Path, config: dict) -> None:
    from snakemake.cli import main as snakemake_main

    argv = snakemake_args(workdir, "--dry-run", "--quiet", config=config)
    profiler = cProfile.Profile()
    profiler.enable()
    with contextlib.suppress(SystemExit):  # snakemake's main exits when done
        snakemake_main(argv)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(rf"{REPO}/(workflow/|Snakefile)", 15)
    stats.print_stats(25)
    print(out.getvalue(), file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--smoke", "--quick", action="store_true", help="a 70-cell grid, for the tests")
    p.add_argument("--cprofile", action="store_true", help="profile one dry run (stderr)")
    args = p.parse_args()
    config = SMOKE if args.smoke else PAPER_SCALE
    workdir = Path(tempfile.mkdtemp(prefix="dag-build-"))
    try:
        if args.cprofile:
            profile(workdir, config)
            return
        times, cpu, jobs = [], [], None
        for _ in range(args.repeat):
            run = snakemake(workdir, "--dry-run", "--quiet", "rules", config=config, check=True)
            times.append(run.seconds)
            cpu.append(run.cpu_seconds)
            out = run.output
            counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, re.M))
            jobs = int(counts["total"])
            if int(counts["train_cell"]) != cells(config):
                raise SystemExit(f"expected {cells(config)} cells in the DAG:\n{out[-3000:]}")
        print(f"RESULT dag_build_seconds {statistics.median(times):.2f} s")
        print(f"RESULT dag_build_cpu_seconds {statistics.median(cpu):.2f} s")
        print(f"RESULT dag_build_cells {cells(config)} cells")
        print(f"RESULT dag_build_jobs {jobs} jobs")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
