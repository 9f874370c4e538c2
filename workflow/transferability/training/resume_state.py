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

The solver saves with save_later: the state is copied at once (to the host, off the GPU)
and written by a background thread while the next epoch trains, so the write (~724 MB for
alexnet227, to a shared file system) is off the training's critical path. One write at a
time; every other method waits for the write in flight first, and its error, if any, is
raised there.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from ..atomic import torch_save

FORMAT = 1


class ResumeState:
    def __init__(self, path: str | Path, key: str, log=print):
        self.path, self.key, self.log = Path(path), key, log
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None

    def load(self) -> dict | None:
        """The saved state of this very net, or None (none saved, stale or unreadable)."""
        self.wait()
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
        """Write `state` now (atomically)."""
        torch_save({"format": FORMAT, "key": self.key, **state}, self.path)

    def save_later(self, state: dict) -> None:
        """Copy `state` now and write the copy in a background thread: training may change
        the tensors it holds as soon as this returns."""
        self.wait()
        snapshot = _host_copy(state)

        def write() -> None:
            try:
                self.save(snapshot)
            except BaseException as e:  # raised in the training thread by wait()
                self._error = e

        # Not a daemon: a process that ends normally finishes the write first; one that is
        # killed leaves the previous epoch's file (the write is atomic).
        self._writer = threading.Thread(target=write, name="resume-state-writer")
        self._writer.start()

    def wait(self) -> None:
        """Until the write in flight is done; its error, if it failed."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def clear(self) -> None:
        self.wait()
        self.path.unlink(missing_ok=True)


def _host_copy(value):
    """A deep copy with every tensor copied to the CPU (a sync with the GPU, once an epoch)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _host_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_host_copy(v) for v in value)
    return value
