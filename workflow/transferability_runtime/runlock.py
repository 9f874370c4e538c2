"""One run per results folder, whichever folder or host it is started from.

Snakemake's own lock lives in `.snakemake/` of the folder it runs in, and runcheck.py sees
another snakemake only in the same folder on the same host. Two clones sharing `results/`
(a symlink, a shared disk) or a run on a second login node were not seen, and both wrote
the same outputs. So a run takes a lock inside the results folder: a file naming its host,
boot, PID namespace, pid, folder and start time, created exclusively (O_EXCL, atomic on
local disks and NFS v3+). Another run refuses to start while it is there and its run may be
alive. A lock whose run is provably gone (this host, this boot, this PID namespace, no such
snakemake process) is taken over; one from another host or namespace cannot be checked
from here, so the message says how to remove it by hand. The lock goes when the run ends,
also on Ctrl-C and errors; a run killed outright (SIGKILL, a lost node) leaves it.

Standard library only: read by common.smk in Snakemake's main process.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import time
from pathlib import Path

NAME = ".run.lock"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def here() -> dict:
    return {
        "host": socket.gethostname(),
        "boot": _read("/proc/sys/kernel/random/boot_id"),
        "pid_namespace": os.readlink("/proc/self/ns/pid") if os.path.exists("/proc") else "",
        "pid": os.getpid(),
        "folder": os.getcwd(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _alive_here(holder: dict, mine: dict) -> bool | None:
    """Whether the holder's run is alive: True/False where this process can tell (same
    host, boot and PID namespace), None where it cannot."""
    if any(holder.get(k) != mine[k] for k in ("host", "boot", "pid_namespace")):
        return None
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return "snakemake" in cmdline


def describe(holder: dict) -> str:
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')}, started "
        f"{holder.get('started')} in {holder.get('folder')}"
    )


class Locked(Exception):
    pass


def acquire(results: str | Path, release_at_exit: bool = True) -> Path:
    """Take the results folder's lock, or raise Locked with the one-line reason and fix."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    path, mine = results / NAME, here()
    for _ in range(2):  # a stale lock removed, then one more try
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text())
            except (OSError, ValueError):
                holder = {}
            alive = _alive_here(holder, mine) if holder else False
            if alive and holder.get("pid") == mine["pid"]:
                return path  # this process read the Snakefile twice
            if alive is False:
                path.unlink(missing_ok=True)  # its run is gone: this one takes over
                continue
            raise Locked(refusal(path, holder, alive)) from None
        with os.fdopen(fd, "w") as f:
            json.dump(mine, f)
        if release_at_exit:  # absolute: snakemake may leave its -d folder before it exits
            atexit.register(release, path.resolve(), mine)
        return path
    raise Locked(f"{path}: another run took the lock just now; wait for it to finish")


def refusal(path: Path, holder: dict, alive: bool | None) -> str:
    who = describe(holder)
    if alive:
        return (
            f"{path.parent}: another snakemake run uses this results folder ({who}); wait "
            f"for it to finish or stop it (kill {holder.get('pid')} on {holder.get('host')}); "
            "two runs on one results folder overwrite each other's outputs"
        )
    return (
        f"{path.parent}: a snakemake run on another host or in another PID namespace holds "
        f"this results folder ({who}), which cannot be checked from here; wait for it to "
        f"finish, or if that run is gone (its host down, its job killed), delete {path} "
        "and rerun (with --rerun-incomplete if it stopped mid-job)"
    )


def release(path: Path, mine: dict) -> None:
    """Remove the lock if it is still this run's."""
    try:
        if json.loads(path.read_text()).get("pid") == mine["pid"]:
            path.unlink()
    except (OSError, ValueError):
        pass


def unlock(results: str | Path) -> str | None:
    """For `snakemake --unlock`: remove a lock whose run is gone; the refusal, or None."""
    path = Path(results) / NAME
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        holder = {}
    alive = _alive_here(holder, here()) if holder else False
    if alive is False:
        path.unlink(missing_ok=True)
        return None
    return refusal(path, holder, alive)
