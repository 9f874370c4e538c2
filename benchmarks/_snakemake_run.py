"""The one way the tests and the benchmarks run snakemake: the real command, in a scratch
folder on this repository's Snakefile (`-s REPO/Snakefile -d workdir`) or inside a copied
clone (its own Snakefile, the clone as the working directory).

The benchmarks import it as `_snakemake_run` (their folder is first on sys.path); the tests
too (pyproject.toml puts benchmarks/ on pytest's pythonpath). Its helpers: `snakemake()` runs
and waits, `start()` launches in the background, `snakemake_args()` the arguments both use
(and `dag_build.py --cprofile` passes to snakemake in-process).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG_NAME = "run-config.yaml"  # where `config=` is written, in the folder snakemake runs in

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


# What a copy of a repository that is not a git clone (a copy made by copy_repository,
# as `make bench` runs it in a test) leaves out: what .gitignore keeps out of git.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".snakemake", "results", "__pycache__")


def copy_repository(dest: Path) -> Path:
    """Copy the repository's files (tracked, and new ones git does not ignore) into `dest`;
    outside a git clone (itself a copy), every file but the ignored folders."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
    )
    if listed.returncode != 0:
        shutil.copytree(REPO, dest, ignore=NOT_COPIED, dirs_exist_ok=True)
        (dest / "results").mkdir(exist_ok=True)
        if (REPO / "results/README.md").is_file():
            shutil.copy2(REPO / "results/README.md", dest / "results/README.md")
        return dest
    for name in filter(None, (f.decode() for f in listed.stdout.split(b"\0"))):
        if (REPO / name).is_file():  # a deleted file is still listed until it is committed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def snakemake_args(
    workdir: Path,
    *args: str,
    config: dict | None = None,
    clone: bool = False,
    snakefile: Path | None = None,
) -> list[str]:
    """The arguments of one snakemake call (without `python -m snakemake`).

    workdir: the folder the results go to. clone: True when `workdir` is a copy of the
    repository (copy_repository): snakemake then runs there on that copy's Snakefile, and
    relative paths in `args` are the clone's; otherwise on `snakefile` (REPO/Snakefile)
    with `-d workdir`. config: written to workdir/CONFIG_NAME and given as `--configfile`,
    before `args`."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [] if clone else ["-s", str(snakefile or REPO / "Snakefile"), "-d", str(workdir)]
    if config is not None:
        path = workdir / CONFIG_NAME
        path.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(path)]
    return [*cmd, *args]


@dataclass
class Run:
    """A finished snakemake call: what subprocess.run returns, with its times."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # wall time
    cpu_seconds: float  # user + system of snakemake and its jobs: less noisy on a shared machine

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def snakemake(
    workdir: Path,
    *args: str,
    config: dict | None = None,
    clone: bool = False,
    snakefile: Path | None = None,
    timeout: float | None = None,
    env: dict | None = None,
    check: bool = False,
) -> Run:
    """Run `python -m snakemake` (see snakemake_args) and wait for it.

    env: the environment (default venv_env()); timeout: seconds before it is killed
    (subprocess.TimeoutExpired); check: exit (SystemExit, with the end of its output) when
    it fails, as a benchmark script does."""
    cmd = [sys.executable, "-m", "snakemake"]
    cmd += snakemake_args(workdir, *args, config=config, clone=clone, snakefile=snakefile)
    cpu, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(
        cmd,
        cwd=workdir if clone else None,
        capture_output=True,
        text=True,
        env=venv_env() if env is None else env,
        timeout=timeout,
        check=False,
    )
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    run = Run(cmd, result.returncode, result.stdout, result.stderr, seconds, cpu)
    if check and run.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{run.output[-3000:]}")
    return run


def start(
    workdir: Path,
    *args: str,
    config: dict | None = None,
    clone: bool = False,
    env: dict | None = None,
    **popen,
) -> subprocess.Popen:
    """Launch `python -m snakemake` (see snakemake_args) without waiting; `popen` goes to
    subprocess.Popen (stdout, stderr, start_new_session, ...)."""
    cmd = [sys.executable, "-m", "snakemake"]
    cmd += snakemake_args(workdir, *args, config=config, clone=clone)
    env = venv_env() if env is None else env
    return subprocess.Popen(cmd, cwd=workdir if clone else None, env=env, **popen)
