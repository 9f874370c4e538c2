"""The training loss of an epoch, and whether it stayed finite, without a host sync per step
on a GPU.

On the CPU each step's loss is read with .item() as before (reading it costs nothing
there, and a non-finite loss stops training before its step is taken). On a GPU, .item()
would make the host wait for every step to finish, so the GPU idles while the host
prepares the next one: the losses are summed on the device and read every CHECK_EVERY
steps and at the end of the epoch. A net that diverges there stops at the next check,
after at most CHECK_EVERY - 1 more steps on its non-finite weights: it is recorded as
diverged either way.
"""

from __future__ import annotations

import math

import torch

CHECK_EVERY = 50


class LossWatch:
    def __init__(self, device: torch.device):
        self.on_host = device.type == "cpu"
        self.total = 0.0
        self._sum = None if self.on_host else torch.zeros((), dtype=torch.float64, device=device)
        self._steps = 0

    def diverged(self, loss: torch.Tensor) -> bool:
        """Add this step's loss; True when a non-finite loss is known (stop training)."""
        self._steps += 1
        if self.on_host:
            value = loss.item()
            if not math.isfinite(value):
                return True
            self.total += value
            return False
        self._sum += loss.detach().double()
        return self._steps % CHECK_EVERY == 0 and not self._read()

    def finished(self) -> bool:
        """At the end of the epoch: False if the loss went non-finite since the last check."""
        return self.on_host or self._read()

    def _read(self) -> bool:
        self.total = float(self._sum)  # the one host sync per CHECK_EVERY steps
        return math.isfinite(self.total)
