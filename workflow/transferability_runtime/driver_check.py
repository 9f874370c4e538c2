"""Which training environment an NVIDIA driver can run: envs/train.yaml (PyPI's torch
2.14.1, a CUDA 13.0 build: driver 580 or newer) or envs/train-cu12.yaml (the same torch
built for CUDA 12.8: driver 525.60.13 or newer, through CUDA's minor-version
compatibility; 570 or newer for Blackwell GPUs, whose kernels need CUDA 12.8's driver).

Many clusters run drivers of the R535-R570 branches: there every job of envs/train.yaml
would stop at the GPU guard (training/device.py). This says so before the grid runs:

    python -m transferability_runtime.driver_check            # asks nvidia-smi
    python -m transferability_runtime.driver_check 535.104.05 # or a driver version

Pure Python; nvidia-smi only when no version is given.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainEnv:
    path: str
    cuda: str
    min_driver: tuple[int, ...]


# Newest CUDA first: the env to use is the first whose driver minimum is met.
ENVS = (
    TrainEnv("envs/train.yaml", "13.0", (580,)),
    TrainEnv("envs/train-cu12.yaml", "12.8", (525, 60, 13)),
)

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_driver(text: str) -> tuple[int, ...] | None:
    """The driver version in `text`: nvidia-smi's banner ("Driver Version: 535.104.05"),
    its `--query-gpu=driver_version` output, or the version alone."""
    banner = re.search(r"Driver Version:\s*(\S+)", text)
    found = _VERSION.search(banner.group(1) if banner else text)
    if not found:
        return None
    return tuple(int(p) for p in found.groups() if p is not None)


def env_for_driver(driver: str | tuple[int, ...]) -> TrainEnv | None:
    """The training env this driver runs (the newest CUDA it supports), or None."""
    version = parse_driver(driver) if isinstance(driver, str) else driver
    if version is None:
        return None
    return next((env for env in ENVS if version >= env.min_driver), None)


def advice(driver: str | tuple[int, ...], using: str = ENVS[0].path) -> str:
    """One line: whether the env `using` runs on this driver, and if not, which does."""
    version = parse_driver(driver) if isinstance(driver, str) else driver
    if version is None:
        return f"cannot read a driver version from {driver!r}"
    shown = ".".join(map(str, version))
    env = env_for_driver(version)
    if env is None:
        oldest = ENVS[-1]
        return (
            f"driver {shown} is older than any training env supports (CUDA {oldest.cuda} "
            f"needs {'.'.join(map(str, oldest.min_driver))} or newer): ask for a newer driver"
        )
    current = next((e for e in ENVS if e.path == using), None)
    if current is not None and version >= current.min_driver:
        return f"driver {shown}: {using} (CUDA {current.cuda}) runs here"
    return (
        f"driver {shown} cannot run {using} (CUDA {current.cuda if current else '?'} needs "
        f"driver {'.'.join(map(str, current.min_driver)) if current else '?'} or newer): use "
        f"{env.path} (CUDA {env.cuda}): docs/conda.md"
    )


NO_DRIVER = "no NVIDIA driver found (nvidia-smi is absent or failed): nothing to check"


def runs(line: str) -> bool:
    """Whether an advice line says the env runs on the driver."""
    return "runs here" in line


def query_driver() -> str | None:
    """The driver version nvidia-smi reports for the first GPU, or None (no nvidia-smi)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    driver = argv[0] if argv else query_driver()
    if driver is None:
        print(NO_DRIVER)
        return 0
    line = advice(driver)
    print(line)
    return 0 if runs(line) else 1


if __name__ == "__main__":
    sys.exit(main())
