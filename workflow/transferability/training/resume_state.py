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

import contextlib
import fcntl
import os
import threading
from pathlib import Path

import torch

from ..atomic import torch_save
from ..errors import DataError

FORMAT = 1
# What the training loop saves (solver.py, _Loop.state) and a resume reads, every one.
FIELDS = (
    "epoch", "net", "momentum", "step", "loss", "history", "best_val", "best_epoch",
    "best_net", "generator", "rng", "seconds",
)  # fmt: skip
UNUSABLE_SUFFIX = ".unusable"


class ResumeState:
    def __init__(self, path: str | Path, key: str, log=print):
        self.path, self.key, self.log = Path(path), key, log
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None

    def load(self, net=None, optimizer=None) -> dict | None:
        """The saved state of this very net, or None (none saved, stale or unreadable).
        Given the net and its solver (MomentumSGD), a state that cannot be loaded into them
        is moved aside (set_aside) and None returned, before anything is loaded."""
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
        checkable = net is not None and optimizer is not None
        if checkable and (problem := unfit(state, net, optimizer)):
            self.set_aside(problem)
            return None
        return state

    def set_aside(self, problem: str) -> None:
        """Keep a state that cannot be resumed out of the way as `<name>.unusable`: left in
        place it would fail every rerun the same way, and deleted nothing would be left to
        look at."""
        aside = self.path.with_name(self.path.name + UNUSABLE_SUFFIX)
        try:
            os.replace(self.path, aside)
            where = f"moved to {aside}"
        except OSError as e:  # the first epoch's save replaces it anyway
            where = f"not moved aside ({e.strerror})"
        self.log(
            f"warning: the saved training state {self.path} cannot be resumed ({problem}); "
            f"{where}; training starts over from epoch 1"
        )

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


def unfit(state: dict, net, optimizer) -> str | None:
    """Why `state` cannot be loaded into `net` and `optimizer` (None: it can). Checked as a
    whole before any of it is loaded, so a refused state leaves the net as initialised."""
    missing = [field for field in FIELDS if field not in state]
    if missing:
        return f"it lacks {', '.join(missing)}"
    for field in ("net", "best_net"):
        if problem := _weights_unfit(state[field], net.state_dict()):
            return f"{field}: {problem}"
    if problem := _momentum_unfit(state["momentum"], optimizer.params):
        return problem
    if not _same_kind(state["generator"], torch.Generator().get_state()):
        return "its batch-order generator state is not one torch can restore"
    if not isinstance(state["rng"], dict) or not _same_kind(
        state["rng"].get("torch"), torch.get_rng_state()
    ):
        return "its random number generator state is not one torch can restore"
    return None


def _weights_unfit(saved, expected: dict) -> str | None:
    if not isinstance(saved, dict):
        return "not a set of weights"
    if saved.keys() != expected.keys():
        missing = sorted(expected.keys() - saved.keys())
        extra = sorted(saved.keys() - expected.keys())
        return f"weights of another net (missing {missing}, unknown {extra})"
    for name, tensor in expected.items():
        if not isinstance(saved[name], torch.Tensor) or saved[name].shape != tensor.shape:
            return f"{name} is not a tensor of shape {tuple(tensor.shape)}"
    return None


def _momentum_unfit(momentum, params: list) -> str | None:
    if momentum is None:  # saved before the solver's first step: nothing to restore
        return None
    if not isinstance(momentum, (list, tuple)) or len(momentum) != len(params):
        count = len(momentum) if isinstance(momentum, (list, tuple)) else "no list of"
        return f"{count} momentum tensors for the {len(params)} trained parameters"
    for i, (buffer, param) in enumerate(zip(momentum, params, strict=True)):
        if not isinstance(buffer, torch.Tensor) or buffer.shape != param.shape:
            return f"momentum tensor {i} is not of its parameter's shape {tuple(param.shape)}"
    return None


def _same_kind(saved, current: torch.Tensor) -> bool:
    """A generator state torch would take: a byte tensor of the size it has now."""
    return (
        isinstance(saved, torch.Tensor)
        and saved.dtype == current.dtype
        and saved.shape == current.shape
    )


class Busy(DataError):
    """Another live process is training this net."""


@contextlib.contextmanager
def one_writer(state_path: str | Path):
    """Hold an exclusive lock beside the net's resume state while it trains. A job whose
    snakemake died keeps running and writing; a second job for the same net (after
    `--unlock` and `--rerun-incomplete`) then stops at once instead of writing beside it.
    The kernel drops the lock when its process ends, however it ends; the file goes with a
    job that ends by itself."""
    lock = Path(str(state_path) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise Busy(
                f"{state_path}: another job is training this net (pid {holder}, which may be "
                "a job left running by a snakemake that was killed); wait for it to finish, "
                f"or stop it (kill {holder}), then rerun"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:  # removed while still held: no other job can have taken it meanwhile
            lock.unlink(missing_ok=True)


def _host_copy(value):
    """A deep copy with every tensor copied to the CPU (a sync with the GPU, once an epoch)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _host_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_host_copy(v) for v in value)
    return value
