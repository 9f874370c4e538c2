"""Where a net trains: the GPU when the job has one, else the CPU, decided at run time.

A SLURM job that asked for a GPU sees it through CUDA; the same command on a laptop
trains on the CPU. A job that was given a GPU (SLURM's or CUDA's variables list devices)
but in which torch sees none never falls back to the CPU: it stops at once, naming the
cause (a CPU build of torch, or a driver problem) and the fix. A deliberate CPU run says so:
TRANSFERABILITY_DEVICE=cpu in the environment, or `device: cpu` in the config.

Both follow the recipe's `precision`: bf16 autocast (on the CPU only in steps that run
conv layers) or fp32 (on CUDA without TF32); CPU runs are bit-for-bit reproducible either
way. CUDA runs use cuDNN's benchmark mode unless TRANSFERABILITY_DETERMINISTIC=1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from ..errors import PipelineError

# "cpu" forces the CPU even where CUDA is present (e.g. to reproduce CPU numbers on a GPU
# node, or to train on purpose where a GPU was given); "cuda" demands a GPU; "auto" (the
# default) takes the GPU when there is one and the CPU when the job was given none.
DEVICE_ENV = "TRANSFERABILITY_DEVICE"
# Set by SLURM for a job or step given GPUs (gres/gpu), and by the user or SLURM for CUDA.
GPU_ENV = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES")
# Values that list no device: CUDA_VISIBLE_DEVICES="" or "-1" hides every GPU, and SLURM
# writes "NoDevFiles" where gres is configured but the job got none.
NO_DEVICE = {"", "-1", "nodevfiles", "none"}


class DeviceError(PipelineError, ValueError):
    """The job was given a GPU that torch cannot use (or a device setting is not known)."""


def gpu_given(env: Mapping[str, str] | None = None) -> str | None:
    """`NAME=value` of the first variable that gives this job a GPU, else None."""
    env = os.environ if env is None else env
    for name in GPU_ENV:
        value = env.get(name, "").strip()
        if value.lower() not in NO_DEVICE:
            return f"{name}={value}"
    return None


def why_no_cuda() -> str:
    """The cause, in one sentence, and its fix."""
    if torch.version.cuda is None:
        return (
            f"this torch ({torch.__version__}) is a CPU build (torch.version.cuda is None). "
            "envs/train.yaml and requirements.txt install PyPI's torch wheel, a CUDA build on "
            "Linux x86_64: the jobs run another torch (a CPU wheel from pip's --index-url, "
            "or an env made from another file). Under --sdm conda remove the env "
            "(snakemake --conda-cleanup-envs, or delete .snakemake/conda/) and create it again"
        )
    try:  # is_available() hides the reason; initialising CUDA names it
        torch.cuda.init()
        reason = f"{torch.cuda.device_count()} devices visible"
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return (
        f"this torch ({torch.__version__}) is built for CUDA {torch.version.cuda} but finds no "
        f"usable GPU ({reason}): a driver problem. Check `nvidia-smi` on the node; the driver "
        f"must support CUDA {torch.version.cuda} (or use a torch build for the driver's CUDA)"
    )


def pick(env: Mapping[str, str] | None = None) -> torch.device:
    """The device to train on; raises DeviceError rather than silently train on the CPU."""
    env = os.environ if env is None else env
    wanted = env.get(DEVICE_ENV, "auto").strip().lower() or "auto"
    if wanted not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"{DEVICE_ENV}={wanted!r}: use auto, cpu or cuda")
    if wanted == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    given = gpu_given(env)
    if wanted == "cuda" or given:
        because = f"{DEVICE_ENV}=cuda asks for it" if wanted == "cuda" else f"{given} is set"
        raise DeviceError(
            f"this job was given a GPU ({because}) but torch cannot use it, and it will not "
            f"train on the CPU by accident: {why_no_cuda()}. To train on the CPU on purpose, "
            f"set {DEVICE_ENV}=cpu (or `device: cpu` in the config)."
        )
    return torch.device("cpu")


def autocast_enabled(device_type: str, precision: str, convs: bool = True) -> bool:
    """bf16 mixed precision (no loss scaling needed) where the recipe asks for it: on CUDA
    for every step, on the CPU only for steps that run conv layers (on the fully connected
    top alone the casts cost more than they save, so such a step stays fp32)."""
    if precision != "bf16":
        return False
    return device_type == "cuda" or convs


def autocast(device: torch.device, precision: str, convs: bool = True):
    enabled = autocast_enabled(device.type, precision, convs)
    return torch.autocast(device.type, torch.bfloat16, enabled=enabled)


# TRANSFERABILITY_DETERMINISTIC=1: cuDNN picks deterministic kernels and does not
# benchmark (bit-identical reruns on one GPU, at some cost in speed).
DETERMINISTIC_ENV = "TRANSFERABILITY_DETERMINISTIC"


def configure(device: torch.device, precision: str, env: Mapping[str, str] | None = None) -> dict:
    """Backend settings for a training run on `device`, returned as applied.

    cuDNN's benchmark mode times the algorithms of each new input shape once and keeps the
    fastest (every step has the same shapes here), unless determinism is asked for. With
    `precision: fp32` the run stays fp32 on a GPU too: TF32 (tensor cores on float32
    inputs, 10-bit mantissa), which PyTorch allows in cuDNN convolutions by default, is
    turned off. The CPU is left alone."""
    env = os.environ if env is None else env
    if device.type != "cuda":
        return {}
    deterministic = env.get(DETERMINISTIC_ENV, "").strip() not in ("", "0")
    settings = {
        "cudnn_benchmark": not deterministic,
        "cudnn_deterministic": deterministic,
        "tf32": precision != "fp32",
    }
    torch.backends.cudnn.benchmark = settings["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = settings["cudnn_deterministic"]
    torch.backends.cudnn.allow_tf32 = settings["tf32"]
    torch.backends.cuda.matmul.allow_tf32 = settings["tf32"]
    return settings


def to_device(data: dict, device: torch.device) -> dict:
    """Whole-dataset tensors moved once; pinned + non-blocking so the copies overlap."""
    if device.type == "cpu":
        return data
    return {  # streamed images (imagefolder.Stream) stay put: each batch moves by itself
        part: tuple(
            t.pin_memory().to(device, non_blocking=True) if isinstance(t, torch.Tensor) else t
            for t in tensors
        )
        for part, tensors in data.items()
    }


def describe(device: torch.device) -> str:
    """What the metrics record: 'cpu', or 'cuda:<name>'."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return "cpu"


def rng_states(device: torch.device) -> dict:
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def set_rng_states(states: dict, device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)
