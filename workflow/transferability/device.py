"""Where a net trains: the GPU when the job has one, else the CPU, decided at run time.

A SLURM job that asked for a GPU sees it through CUDA; the same command on a laptop
trains on the CPU. CUDA always trains under bf16 autocast; the CPU follows the recipe's
`precision` (bf16 autocast in the conv layers by default, or fp32), and its runs are
bit-for-bit reproducible either way.
"""

from __future__ import annotations

import os

import torch

# "cpu" forces the CPU even where CUDA is present (e.g. to reproduce CPU numbers on a GPU node).
DEVICE_ENV = "TRANSFERABILITY_DEVICE"


def pick() -> torch.device:
    wanted = os.environ.get(DEVICE_ENV, "auto")
    if wanted not in ("auto", "cpu", "cuda"):
        raise ValueError(f"{DEVICE_ENV}={wanted!r}: use auto, cpu or cuda")
    if wanted == "cpu" or (wanted == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def autocast(device: torch.device, precision: str, convs: bool = True):
    """bf16 mixed precision (no loss scaling needed): always on CUDA; on the CPU where the
    recipe asks for it and the step runs conv layers — on the fully connected top alone
    the casts cost more than they save, so such a step stays fp32."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16" and convs)


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
