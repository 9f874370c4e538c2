"""What a served job must share with the process it stands in for (the rule's client):
niceness, scheduling policy, CPU set, resource limits, groups, cgroup and namespaces. The
client sends its own; the server's fork takes them on, or says why it cannot, and the job
then runs in the client's own process. And the client ends as its job ended: with its exit
status, or killed by the same signal."""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
from pathlib import Path

# What the job's process must share with its caller, compared (or, where a process can,
# set) in the fork before the job starts. Resource limits: all of them. A fork can lower a
# hard limit, never raise it; and the memory limits (ulimit -v/-d/-s) differ in kind: a
# fork of a process that has imported torch is not the process the job would have had,
# so where they differ from the server's the job runs in its own process.
RLIMITS = {
    name: getattr(resource, name)
    for name in sorted(dir(resource))
    if name.startswith("RLIMIT_") and name != "RLIMIT_NLIMITS"
}
MEMORY_RLIMITS = ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK")
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


def process_attributes() -> dict:
    """What makes this process's job behave as it does besides argv, folder, environment
    and streams: niceness, scheduling policy, CPU set, resource limits, groups, cgroup and
    namespaces (Linux)."""
    here = {
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "policy": os.sched_getscheduler(0),
        "affinity": sorted(os.sched_getaffinity(0)),
        "rlimits": {name: resource.getrlimit(number) for name, number in RLIMITS.items()},
        "groups": [os.getgid(), os.getegid(), *sorted(os.getgroups())],
        "cgroup": Path("/proc/self/cgroup").read_text(),
        "namespaces": {},
    }
    for ns in NAMESPACES:
        with contextlib.suppress(OSError):
            here["namespaces"][ns] = os.readlink(f"/proc/self/ns/{ns}")
    return here


def become(caller: dict) -> str | None:
    """In the fork: take on the caller's niceness, scheduling policy, CPU set and resource
    limits; why it cannot (the job then runs in its own process), or None."""
    here = process_attributes()
    for key, what in (("groups", "groups"), ("cgroup", "cgroup"), ("namespaces", "namespaces")):
        if caller[key] != here[key]:
            # Joining another cgroup or namespace, or changing groups, takes privileges.
            return f"the caller's {what} are not the shared training process's"
    for name, limits in caller["rlimits"].items():
        if name not in RLIMITS or tuple(limits) == here["rlimits"][name]:
            continue
        if name in MEMORY_RLIMITS:
            return f"the caller's {name} {tuple(limits)} is not the shared process's"
        try:
            resource.setrlimit(RLIMITS[name], tuple(limits))
        except (OSError, ValueError) as e:
            return f"cannot set {name} to the caller's {tuple(limits)} ({e})"
    try:
        if caller["policy"] != here["policy"]:
            os.sched_setscheduler(0, caller["policy"], os.sched_param(0))
        if caller["affinity"] != here["affinity"]:
            os.sched_setaffinity(0, caller["affinity"])
        if caller["nice"] != here["nice"]:
            os.setpriority(os.PRIO_PROCESS, 0, caller["nice"])
    except OSError as e:
        return f"cannot take the caller's niceness, scheduling policy or CPU set ({e})"
    return None


def die_with_parent() -> None:
    """A job outlives no server (PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def exit_as(status: int) -> int:
    """End the client as the job ended. A job killed by a signal kills the client with the
    same signal, so the caller reads 128 + signal as it would have without the shared
    process, after one line in the job's log saying so."""
    if status >= 0:
        return status
    signum = -status
    print(killed_message(signum), file=sys.stderr, flush=True)
    # SIGKILL and SIGSTOP take no handler (setting one raises EINVAL): their default
    # action is the only one.
    if signum not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return 128 + signum  # not reached, but for a signal whose default is to go on


def killed_message(signum: int) -> str:
    """One line for the job's log: which signal ended the job, and what it likely means."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    text = f"error: the job was killed by {name} (exit status {128 + signum})"
    if signum == signal.SIGKILL:
        text += (
            ", likely by the out-of-memory killer: give the rule more memory "
            "(config resources.train.mem_mb) or run fewer jobs at once, then rerun "
            "with --rerun-incomplete"
        )
    return text
