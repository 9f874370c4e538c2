"""How long a rerun takes to decide "Nothing to be done" after a complete run of the default.

The complete run is faked, not trained (a real default run takes ~10 minutes):
1. every output file of the default's DAG (from `snakemake --summary`) is created empty;
2. `snakemake --touch --forceall` then touches them in the DAG's order, and records for
   every job the same metadata a real run records (params, code, input set, software
   env: Snakemake's job postprocessing writes it for touched jobs too).
Snakemake decides what to rerun from file existence, modification times and those
metadata records only; it never reads an output's content (the workflow has no
checkpoints). So the decision it times below is the one it makes after a real run.
As a check that the metadata is in place, a changed plot setting must plan exactly the
figures job again.

Prints `RESULT noop_rerun_seconds <median of --repeat runs> s` for `snakemake --cores 2`,
the command `make demo` runs, and the number of jobs it considered.

    .venv/bin/python benchmarks/noop_rerun.py [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
from pathlib import Path

from _snakemake_run import last_cpu_seconds, snakemake

# --smoke: a 1-split, 1-layer grid, for the test suite.
SMOKE = {"splits": {"random": 1, "dissimilar": {"enabled": False}}, "layers": [1]}


def fake_complete_run(workdir: Path, config: dict | None) -> int:
    # The grid check at start accepts an existing data cache in place of the raw files.
    cache = workdir / "results/data/fashion_mnist.pt"
    cache.parent.mkdir(parents=True)
    cache.touch()
    _, summary = snakemake(workdir, "--summary", config=config)
    outputs = [line.split("\t")[0] for line in summary.splitlines() if line.startswith("results/")]
    for output in outputs:
        (workdir / output).parent.mkdir(parents=True, exist_ok=True)
        (workdir / output).touch()
    snakemake(workdir, "--touch", "--forceall", "--cores", "1", "--quiet", "all", config=config)
    return len(outputs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="a tiny grid, for the tests")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = p.parse_args()
    config = SMOKE if args.smoke else None
    workdir = Path(tempfile.mkdtemp(prefix="noop-rerun-"))
    try:
        n_outputs = fake_complete_run(workdir, config)
        times, cpu = [], []
        for _ in range(args.repeat):
            seconds, out = snakemake(workdir, "--cores", "2", config=config)
            cpu.append(last_cpu_seconds())
            if "Nothing to be done" not in out:
                raise SystemExit(f"expected 'Nothing to be done', got:\n{out[-3000:]}")
            times.append(seconds)
        changed = dict(config or {}, plots={"dpi": 71})
        _, plan = snakemake(workdir, "--dry-run", "--quiet", "rules", config=changed)
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
