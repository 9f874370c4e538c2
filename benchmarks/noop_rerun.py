"""How long a rerun takes to decide "Nothing to be done" after a complete run of the default.

The complete run is faked, not trained (a real default run takes ~10 minutes):
1. every output file of the default's DAG (from `snakemake --summary`) is created empty;
2. `snakemake --touch --forceall` then touches them in the DAG's order, and records for
   every job the same metadata a real run records;
3. every output gets the record a real job writes beside it (transferability/records.py:
   the key the plan gives it and the digest of its content), from the same plan the
   workflow computes (transferability_runtime/plan.py).
So the start of the run reads and checks exactly what it reads after a real run (the
records, and the content of every output up to 1 MB), and Snakemake then decides from
existence and its metadata. As a check that the records are in place, a changed plot
setting must plan exactly the figures job again.

Prints `RESULT noop_rerun_seconds <median of --repeat runs> s` for `snakemake --cores 2`,
the command `make demo` runs, and the number of jobs it considered.

    .venv/bin/python benchmarks/noop_rerun.py [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _snakemake_run import CONFIG_NAME, snakemake

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

# --smoke: a 1-split, 1-layer grid, for the test suite.
SMOKE = {"splits": {"random": 1, "dissimilar": {"enabled": False}}, "layers": [1]}


def fake_complete_run(workdir: Path, config: dict | None) -> int:
    # The grid check at start accepts an existing data cache in place of the raw files.
    cache = workdir / "results/data/fashion_mnist.pt"
    cache.parent.mkdir(parents=True)
    cache.touch()
    summary = snakemake(workdir, "--summary", config=config, check=True).output
    outputs = [line.split("\t")[0] for line in summary.splitlines() if line.startswith("results/")]
    for output in outputs:
        (workdir / output).parent.mkdir(parents=True, exist_ok=True)
        (workdir / output).touch()
    touch = ("--touch", "--forceall", "--cores", "1", "--quiet", "all")
    snakemake(workdir, *touch, config=config, check=True)
    write_records(workdir)
    return len(outputs)


def write_records(workdir: Path) -> None:
    """The record each job of a real run writes beside its outputs."""
    import os

    from transferability import records
    from transferability_runtime import plan, reference

    config = reference.run_config(
        [workdir / CONFIG_NAME] if (workdir / CONFIG_NAME).exists() else []
    )
    here = os.getcwd()
    os.chdir(workdir)
    try:
        expected = reference.run_plan(config).expected()
        for path, key in expected.items():
            if Path(path).exists():
                records.write(path, key, {}, "faked")
        assert not plan.stale(expected), "the faked records do not match the plan"
    finally:
        os.chdir(here)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--smoke", "--quick", action="store_true", help="a tiny grid, for the tests")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = p.parse_args()
    config = SMOKE if args.smoke else None
    workdir = Path(tempfile.mkdtemp(prefix="noop-rerun-"))
    try:
        n_outputs = fake_complete_run(workdir, config)
        times, cpu = [], []
        for _ in range(args.repeat):
            run = snakemake(workdir, "--cores", "2", config=config, check=True)
            cpu.append(run.cpu_seconds)
            if "Nothing to be done" not in run.output:
                raise SystemExit(f"expected 'Nothing to be done', got:\n{run.output[-3000:]}")
            times.append(run.seconds)
        changed = dict(config or {}, plots={"dpi": 71})
        dry_run = ("--dry-run", "--quiet", "rules")
        plan = snakemake(workdir, *dry_run, config=changed, check=True).output
        planned = dict(re.findall(r"^(\w+)\s+(\d+)$", plan, re.M))
        if planned != {"figures": "1", "all": "1", "total": "2"}:
            raise SystemExit(f"metadata check: a new plot dpi should rerun only figures:\n{plan}")
        print(f"RESULT noop_rerun_seconds {statistics.median(times):.2f} s")
        print(f"RESULT noop_rerun_cpu_seconds {statistics.median(cpu):.2f} s")
        print(f"RESULT noop_rerun_outputs {n_outputs} files")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
