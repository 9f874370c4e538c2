"""Training state saved every epoch, so a killed, preempted or timed-out job resumes.

The state file is not a declared output of any rule: Snakemake deletes the outputs of a
failed job, and this file must survive exactly that. It lives under results/resume/,
is written atomically (a kill mid-write leaves the previous epoch's state), carries a
key naming the net and its settings (a state left by other settings is never resumed),
and is deleted once the net's outputs are written.

Everything the rest of the run depends on is in it: weights, momentum buffers, the step
counter (the learning-rate schedule is a function of it), the best epoch so far and its
weights, the history, and the RNG states (batch order and dropout). So on the CPU an
interrupted-and-resumed run ends with the same numbers, bit for bit, as one that was not.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import torch_save

FORMAT = 1


class ResumeState:
    def __init__(self, path: str | Path, key: str, log=print):
        self.path, self.key, self.log = Path(path), key, log

    def load(self) -> dict | None:
        """The saved state of this very net, or None (none saved, stale or unreadable)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, weights_only=True, map_location="cpu")
        except Exception as e:  # a file from an older torch, a disk error: start afresh
            self.log(
                f"warning: cannot read the saved training state {self.path} ({e}); starting over"
            )
            return None
        if state.get("format") != FORMAT or state.get("key") != self.key:
            self.log(f"{self.path}: saved by other settings or code; starting over")
            return None
        return state

    def save(self, state: dict) -> None:
        torch_save({"format": FORMAT, "key": self.key, **state}, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
