"""The fixed cost of one training job: what a cell pays before and after its epochs.

Each workflow job is a fresh `python -m transferability_runtime train-cell` process. Measured
here, each the median of --repeats runs:

- python_start: `python -c pass`;
- import_torch: `python -c "import torch"`, minus python_start;
- import_cells: importing the module a training job runs (torch and the package), minus
  python_start; and whether that import pulls in torchvision or torch._dynamo (it must not);
- job_fixed: a real train-cell job (a frozen random cell at n = 7, the cheapest kind)
  timed from outside, minus the `train_seconds` its metrics record: start-up, imports,
  data loading, the frozen-prefix forward pass, the test evaluation and writing outputs;
  and job_cpu: that job's CPU time (one epoch of training included), which machine load
  does not stretch. Each job in its own process (TRANSFERABILITY_SHARED_PROCESS=0);
- job_fixed_shared: the same job handed to the warm shared training process the workflow
  uses on one machine (transferability_runtime/shared_process.py; a warm-up job starts
  the server first), and shared_process_fixed_cost_ratio, job_fixed over job_fixed_shared.

Prints `RESULT <name> <value> <unit>` lines.

    .venv/bin/python benchmarks/job_overhead.py
    .venv/bin/python benchmarks/job_overhead.py --smoke --data-root DIR --repeats 1  # runs?
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "workflow"
sys.path.insert(0, str(PACKAGE))

from transferability import grid  # noqa: E402
from transferability_runtime.shared_process import ENABLE_ENV, IDLE_ENV  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=str(PACKAGE), **{ENABLE_ENV: "0"})


def wall(cmd: list[str]) -> float:
    return timed(cmd)[0]


def timed(cmd: list[str], env: dict = ENV) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def median_wall(cmd: list[str], repeats: int) -> float:
    return statistics.median(wall(cmd) for _ in range(repeats))


def median_cpu(cmd: list[str], repeats: int) -> float:
    return statistics.median(timed(cmd)[1] for _ in range(repeats))


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "transferability_runtime", *args]  # the rules' command


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--data-root", help="folder of the IDX files (default: the config's)")
    p.add_argument(
        "--smoke", "--quick", action="store_true", help="a few images per class: checks it runs"
    )
    args = p.parse_args()
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    if args.smoke:
        config["subset"] |= {"train_per_class": 10, "val_per_class": 5, "test_per_class": 5}

    start = median_wall([sys.executable, "-c", "pass"], args.repeats)
    torch_s = median_wall([sys.executable, "-c", "import torch"], args.repeats)
    jobs = "import transferability.training.jobs"
    cells_s = median_wall([sys.executable, "-c", jobs], args.repeats)
    print(f"RESULT python_start_seconds {start:.3f} s")
    print(f"RESULT import_torch_seconds {torch_s - start:.3f} s")
    print(f"RESULT import_cells_seconds {cells_s - start:.3f} s")
    torch_cpu = median_cpu([sys.executable, "-c", "import torch"], args.repeats)
    print(f"RESULT import_torch_cpu_seconds {torch_cpu:.3f} s")
    probe = (
        "import sys, transferability.training.jobs; "
        "print(int('torchvision' in sys.modules), int('torch._dynamo' in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, env=ENV, capture_output=True, text=True
    )
    torchvision, dynamo = out.stdout.split()
    print(f"RESULT job_imports_torchvision {torchvision} bool")
    print(f"RESULT job_imports_dynamo {dynamo} bool")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        d = config["dataset"]
        data = {"name": d["name"], "root": args.data_root or d["root"], "download": False}
        data["download_root"] = str(tmp)
        cache, split_file = tmp / "cache.pt", tmp / "dissimilar.json"
        prepare = wall(cli("prepare-data", "--settings", json.dumps(data), "--out", str(cache)))
        print(f"RESULT prepare_data_job_seconds {prepare:.2f} s")
        split_settings = grid.split_settings(config, "dissimilar")
        subprocess.run(
            cli(
                "make-split", "--cache", str(cache), "--split", "dissimilar", "--out",
                str(split_file), "--settings", json.dumps(split_settings),
            ),
            check=True, env=ENV, capture_output=True,
        )  # fmt: skip
        settings = grid.train_settings(config, "random")
        settings["recipe"]["epochs"] = 1
        runtime = tmp / "runtime"  # this benchmark's own shared process
        runtime.mkdir(mode=0o700)
        shared_env = ENV | {ENABLE_ENV: "1", "XDG_RUNTIME_DIR": str(runtime), IDLE_ENV: "2"}

        def job(i: int, env: dict) -> tuple[float, float]:
            """Fixed seconds (wall minus training) and CPU seconds of one train-cell job."""
            metrics = tmp / f"metrics{i}.json"
            seconds, cpu = timed(
                cli(
                    "train-cell", "--cache", str(cache), "--split-file", str(split_file),
                    "--split", "dissimilar", "--target", "B", "--treatment", "random", "--n", "7",
                    "--seed", "0", "--settings", json.dumps(settings),
                    "--out-metrics", str(metrics),
                ),
                env,
            )  # fmt: skip
            return seconds - json.loads(metrics.read_text())["train_seconds"], cpu

        own = [job(i, ENV) for i in range(args.repeats)]
        job(-1, shared_env)  # starts the server
        shared = [job(i, shared_env)[0] for i in range(args.repeats)]
        fixed, fixed_shared = statistics.median(f for f, _ in own), statistics.median(shared)
        print(f"RESULT job_fixed_seconds {fixed:.2f} s")
        # On a shared machine wall times stretch; the CPU time of the whole job (its one
        # epoch of training included) bounds the fixed cost from above and does not.
        print(f"RESULT job_cpu_seconds {statistics.median(c for _, c in own):.2f} s")
        print(f"RESULT job_fixed_shared_seconds {fixed_shared:.2f} s")
        print(f"RESULT shared_process_fixed_cost_ratio {fixed / fixed_shared:.1f} x")


if __name__ == "__main__":
    main()
