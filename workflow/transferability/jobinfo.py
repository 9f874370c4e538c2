"""Where a training job ran and what it was given, for its metrics file: the GPU the job
was allocated (what SLURM or the user put in its environment), what torch saw, and the
speed it trained at. The smoke report (transferability_runtime/smoke_report.py) reads
these to tell a run that used its GPUs from one that silently trained on the CPU.

"Asked for a GPU" is what the job's environment says it was given, not what the workflow
requested: the workflow profile asks every training job for `gres: gpu:1` also on a
laptop, where it means nothing. A SLURM job granted a GPU sees SLURM_JOB_GPUS /
SLURM_STEP_GPUS / SLURM_GPUS_ON_NODE and CUDA_VISIBLE_DEVICES; a workstation user who
sets CUDA_VISIBLE_DEVICES means a GPU too.
"""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata

# Checked in this order; the first that names a GPU is the evidence recorded.
GPU_ENV = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES")
# Values that mean "no GPU": unset/empty, CUDA's "hide every device", SLURM's gres without files.
NO_GPU = ("", "-1", "none", "NoDevFiles", "N/A")


def gpu_allocation(env=None) -> str | None:
    """`NAME=value` of the first variable that gives this job a GPU, or None."""
    env = os.environ if env is None else env
    for name in GPU_ENV:
        value = env.get(name, "").strip()
        if name == "SLURM_GPUS_ON_NODE":
            given = value.isdigit() and int(value) > 0
        else:
            given = value not in NO_GPU
        if given:
            return f"{name}={value}"
    return None


def record(device: str, precision: str, env=None) -> dict:
    """What a training job's metrics record about its hardware (device: devices.describe())."""
    import torch

    env = os.environ if env is None else env
    cuda = device.startswith("cuda")
    evidence = gpu_allocation(env)
    info = {
        "gpu_requested": evidence is not None,
        "gpu_evidence": evidence,
        "device_forced": env.get("TRANSFERABILITY_DEVICE") or None,
        "slurm_job_id": env.get("SLURM_JOB_ID") or None,
        "torch_cuda_version": torch.version.cuda,  # None: a CPU-only build of torch
        "cuda_available": torch.cuda.is_available(),
        # device.autocast: bf16 where the recipe says so (on the CPU, in the steps that
        # run conv layers), on CUDA too; fp32 runs fp32 everywhere.
        "autocast": "bf16" if precision == "bf16" else "off",
        "gpu_name": None,
        "gpu_capability": None,
    }
    if cuda:
        major, minor = torch.cuda.get_device_capability()
        info |= {"gpu_name": torch.cuda.get_device_name(), "gpu_capability": f"{major}.{minor}"}
    return info


def images_per_second(train_images: int, epochs: int, seconds: float) -> float | None:
    """Training images per second of a net: every epoch's images over `train_seconds`
    (which also holds the per-epoch validation)."""
    return train_images * epochs / seconds if seconds > 0 and epochs else None


def version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def software() -> dict:
    """The software a net was trained with (torchvision's version from its metadata:
    importing it costs seconds)."""
    return {
        "torch_version": version("torch"),
        "torchvision_version": version("torchvision"),
        "python_version": platform.python_version(),
        "host": socket.gethostname(),
    }
