"""Where a net trains: the GPU when the job has one, else the CPU, decided at run time.

A SLURM job that asked for a GPU sees it through CUDA; the same command on a laptop
trains on the CPU. Only the CUDA path changes the arithmetic (bf16 autocast); the CPU
path is exactly the plain float32 loop, so CPU runs stay bit-for-bit reproducible.
"""

from __future__ import annotations

import contextlib
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


def autocast(device: torch.device):
    """bf16 mixed precision on CUDA (no loss scaling needed); nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(data: dict, device: torch.device) -> dict:
    """Whole-dataset tensors moved once; pinned + non-blocking so the copies overlap."""
    if device.type == "cpu":
        return data
    return {
        part: tuple(t.pin_memory().to(device, non_blocking=True) for t in tensors)
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
