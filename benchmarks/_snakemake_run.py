"""Helpers the workflow benchmarks share: run the repository's Snakefile in a scratch folder."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


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
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    _cpu_before_after[0] = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    _cpu_before_after[1] = _children_cpu()
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{output[-3000:]}")
    return seconds, output
