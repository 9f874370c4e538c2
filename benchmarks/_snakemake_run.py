"""Helpers the workflow benchmarks share: run the repository's Snakefile in a scratch folder."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# The tiny grid the whole-workflow tests and benchmarks run: a few hundred real
# Fashion-MNIST images, one epoch, the two ends of n, one random split and the dissimilar
# split with every treatment and one seed (4 base nets, 40 cells).
TINY = {
    "subset": {"train_per_class": 40, "val_per_class": 10, "test_per_class": 20},
    "splits": {
        "random": 1,
        "dissimilar": {
            "seeds": [0],
            "treatments": ["selffer", "transfer", "selffer_ft", "transfer_ft", "random"],
        },
    },
    "layers": [1, 7],
    "training": {"base": {"epochs": 1}},
}


def venv_env() -> dict:
    """This environment with the running venv first on PATH: the rules run `python -m ...`
    (SLURM jobs too: sbatch --export=ALL passes this PATH on)."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def copy_repository(dest: Path) -> Path:
    """Copy the repository's files (tracked, and new ones git does not ignore) into `dest`."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (REPO / name).is_file():  # a deleted file is still listed until it is committed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def last_cpu_seconds() -> float:
    """CPU time (user + system) of the last `snakemake` call: less noisy than wall time on a
    shared machine, where other processes stretch the wall time but not this."""
    return _cpu_before_after[1] - _cpu_before_after[0]


_cpu_before_after = [0.0, 0.0]


def snakemake(workdir: Path, *args: str, config: dict | None = None, check: bool = True):
    """`snakemake -s REPO/Snakefile -d workdir ARGS`; returns (seconds, stdout + stderr)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    if config is not None:
        path = workdir / "benchmark-config.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(path)]
    _cpu_before_after[0] = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=venv_env(), check=False
    )
    seconds = time.perf_counter() - start
    _cpu_before_after[1] = _children_cpu()
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{output[-3000:]}")
    return seconds, output
