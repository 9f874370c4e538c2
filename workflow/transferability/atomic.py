"""Atomic file writes: every output goes to a temporary sibling, then is renamed over the
target, so a crash or a full disk never leaves a half-written file that Snakemake would
take as complete. Torch-free."""

from __future__ import annotations

import errno
import glob
import os
from collections.abc import Callable
from pathlib import Path

from .errors import DataError


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` on a temporary sibling of `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so the rename is atomic; same suffix, for writers that pick the
    # format from it (matplotlib, pandas).
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    # A writer killed outright (SIGKILL) cannot clean up; its rerun does. Snakemake
    # never runs two jobs for one output, so no other live writer owns these.
    for stale in path.parent.glob(f".{glob.escape(path.stem)}.tmp*{glob.escape(path.suffix)}"):
        stale.unlink(missing_ok=True)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if e.errno not in FULL:
            raise
        raise _full(path, e) from e
    except RuntimeError as e:
        # torch.save writes through a C++ stream: a full disk arrives as a RuntimeError
        # ("unexpected pos", "file write failed") that carries no errno. Ask the disk.
        if (full := _probe_full(tmp)) is None:
            raise
        raise _full(path, full) from e
    finally:
        tmp.unlink(missing_ok=True)
    return path


FULL = (errno.ENOSPC, errno.EDQUOT)
PROBE_BYTES = 1 << 20


def _full(path: Path, e: OSError) -> DataError:
    return DataError(
        f"{path}: no space left on the device while writing it ({e.strerror}); "
        "free some space or move the workflow to a larger disk, then rerun"
    )


def _probe_full(tmp: Path) -> OSError | None:
    """The disk-full error a write of 1 MiB more to `tmp` gets, or None if it fits (then a
    failed writer failed for another reason). Quotas too, which free-space counts miss."""
    try:
        with open(tmp, "ab") as f:
            f.write(bytes(PROBE_BYTES))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return e if e.errno in FULL else None
    return None


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def torch_save(obj, path: str | Path) -> Path:
    import torch

    return write_atomic(path, lambda tmp: torch.save(obj, tmp))
