"""Training jobs on one machine share a warm process: torch is imported once, each job forks.

A training job pays ~1.7 s before its first epoch, most of it `import torch` (the CUDA
build), and on the default grid a frozen cell then trains for ~1.5 s. So where jobs run
side by side on one machine, the rule's command (`python -m transferability_runtime
train-cell ...`, the same arguments as `python -m transferability train-cell ...`) is a
thin client: it hands its arguments, working directory, environment and standard streams
(the job's log) to a server that has torch and the experiment imported, and the server
forks a child that runs the job as the client process itself would have.
Each job is still one Snakemake job with its own params, outputs, log, exit status and
benchmark wall time, and each runs in its own fresh fork, so nothing carries over from one
cell to the next (`tests/test_worker.py` checks the numbers equal an unshared run's).

The server is started by the first client that finds none, detached, and exits after
IDLE_SECONDS without a job. Its socket is private to the user and named by a hash of the
source of both packages, the interpreter and the environment torch reads when it loads, so edited
code or another venv never runs in a stale server. A job whose client dies (Snakemake or
the user killed it) is killed; SIGINT, SIGTERM and SIGHUP reach the job as they would
have reached the client. Off on SLURM (SLURM ends what a job step leaves running), in
Apptainer containers, outside Linux, and where TRANSFERABILITY_SHARED_PROCESS=0; and a
client that cannot reach a server runs its job in-process, as before. Which steps are
shared follows from the experiment's step table (transferability/steps.py: the steps run
once per net).

Only the standard library here (and the experiment's torch-free step table): the client
must start in milliseconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import selectors
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from transferability import steps

from . import process_identity as identity

ENABLE_ENV = "TRANSFERABILITY_SHARED_PROCESS"
STEPS = tuple(step.name for step in steps.STEPS if step.per_net)
IDLE_ENV = "TRANSFERABILITY_SHARED_PROCESS_IDLE"  # seconds a server waits for a job
IDLE_SECONDS = 20.0
START_SECONDS = 60.0  # for a server to import torch on a loaded machine
# The experiment's package and this one: a server runs the code of both.
PACKAGE = Path(importlib.util.find_spec("transferability").origin).resolve().parent
RUNTIME = Path(__file__).resolve().parent
# Read by torch, OpenMP, CUDA or Python when the server starts, not when a job runs: a
# server started under other values is a different server.
IMPORT_TIME_ENV = ("OMP_", "MKL_", "KMP_", "GOMP_", "CUDA_", "PYTORCH_", "TORCH_", "LD_", "PYTHON")
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
MAX_REQUEST = 1 << 20
MAX_SOCKET_PATH = 107  # bytes: sun_path's limit on Linux
# A server that has not taken a job within this (stopped with SIGSTOP, swapped out, hung)
# is passed by: the job runs in its own process.
HANDOFF_SECONDS = 5.0
POLL_SECONDS = 1.0  # how often a waiting client looks whether its job ended unreported


def enabled(argv: list[str]) -> bool:
    return (
        bool(argv)
        and argv[0] in STEPS
        and sys.platform == "linux"
        and os.environ.get(ENABLE_ENV, "1") != "0"
        and "SLURM_JOB_ID" not in os.environ
        # Each job its own container (--sdm apptainer): a server would outlive its own.
        and not {"APPTAINER_CONTAINER", "SINGULARITY_CONTAINER"} & set(os.environ)
    )


def server_key() -> str:
    digest = hashlib.sha256(f"{sys.executable}\0{sys.version}\0".encode())
    for package in (PACKAGE, RUNTIME):
        for path in sorted(package.rglob("*.py")):  # the subpackages' code too
            name = f"{package.name}/{path.relative_to(package).as_posix()}"
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name, value in sorted(os.environ.items()):
        if name.startswith(IMPORT_TIME_ENV):
            digest.update(f"{name}={value}\0".encode())
    return digest.hexdigest()[:20]


def socket_path() -> Path | None:
    """The server's socket in a folder only this user can enter; None (no sharing) where
    there is no such folder or its path is too long for a socket."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"transferability-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = folder.lstat()
    except OSError:
        return None
    private = st.st_uid == os.getuid() and (st.st_mode & 0o077) == 0
    path = folder / f"worker-{server_key()}.sock"
    if not private or folder.is_symlink() or len(bytes(path)) > MAX_SOCKET_PATH:
        return None
    return path


# ---------------------------------------------------------------- client


def run(argv: list[str]) -> int | None:
    """Run one job in the shared server: its exit code, or None where no server could take
    it (the caller then runs it in-process)."""
    if not enabled(argv) or (path := socket_path()) is None:
        return None
    for taken in (path, Path(f"{path}.lock")):
        try:
            mode = taken.lstat().st_mode
        except OSError:
            continue
        if not (stat.S_ISSOCK if taken == path else stat.S_ISREG)(mode):
            _say(
                f"own process: {taken} is not the shared training process's "
                f"{'socket' if taken == path else 'lock'}; remove it (rm -r) to share it again"
            )
            return None
    conn = _connect(path) or _start_and_connect(path)
    if conn is None:
        return None
    with conn:
        umask = os.umask(0o022)
        os.umask(umask)
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask}
        request["process"] = identity.process_attributes()
        try:
            conn.settimeout(HANDOFF_SECONDS)
            socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
            started = conn.recv(4096)
        except TimeoutError:
            _say(f"own process: the shared training process took no job in {HANDOFF_SECONDS:g} s")
            return None
        except OSError:
            return None
        if not started:  # the server stopped before forking the job (an idle exit)
            return None
        reply = json.loads(started)
        if "refused" in reply:  # it cannot run the job as this process would
            _say(f"own process: {reply['refused']}")
            return None
        return _wait(conn, reply["started"])


def _say(text: str) -> None:
    print(f"[{text}]", file=sys.stderr, flush=True)


def _wait(conn: socket.socket, pid: int) -> int:
    def forward(signum, _frame):
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"signal": signum}).encode())

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    conn.settimeout(POLL_SECONDS)
    while True:
        try:
            reply = conn.recv(256)  # retried after each forwarded signal (PEP 475)
            break
        except TimeoutError:
            # A stopped server reports no job's end: its ended job waits as a zombie,
            # whose exit status /proc shows.
            if (status := _ended(pid)) is not None:
                return identity.exit_as(status)
    if not reply:
        print("error: the shared training process stopped mid-job", file=sys.stderr)
        return 1
    return identity.exit_as(json.loads(reply)["status"])


def _ended(pid: int) -> int | None:
    """The exit code of a job that ended but was not reaped (a zombie), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] != "Z" or len(fields) < 50:
        return None
    return os.waitstatus_to_exitcode(int(fields[49]))


def _connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(str(path))
        return conn
    except OSError:
        conn.close()
        return None


def _start_and_connect(path: Path) -> socket.socket | None:
    deadline, server, spawned = time.monotonic() + START_SECONDS, None, -START_SECONDS
    while time.monotonic() < deadline:
        if conn := _connect(path):
            return conn
        status = server.poll() if server else 0
        if status not in (None, 0):  # it failed: the job, run in-process, will show why
            return None
        # Exit 0: another server holds the lock, starting up or shutting down; while it
        # serves nobody, try again now and then.
        if status == 0 and time.monotonic() - spawned > 0.5:
            server, spawned = _spawn(path), time.monotonic()
        time.sleep(0.02)
    return None


def _spawn(path: Path) -> subprocess.Popen:
    env = dict(os.environ)
    roots = dict.fromkeys([str(RUNTIME.parent), str(PACKAGE.parent)])  # one folder, usually
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*roots, env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", f"{RUNTIME.name}.shared_process", str(path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


# ---------------------------------------------------------------- server


def serve(path: Path) -> int:
    lock = open(f"{path}.lock", "w")  # noqa: SIM115 (held for the server's lifetime)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another server has it
    _warm_up()
    path.unlink(missing_ok=True)  # a dead server's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(path))
    listener.listen(64)
    os.chdir("/")  # pin no job's folder

    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "reap")
    jobs: dict[int, socket.socket] = {}  # pid -> its client's connection
    shared = [listener, wake_r, wake_w, lock, selector]  # what a job's fork closes
    idle = float(os.environ.get(IDLE_ENV, IDLE_SECONDS))
    idle_since = time.monotonic()
    while jobs or time.monotonic() - idle_since < idle:
        for key, _ in selector.select(timeout=1.0):
            if key.data == "accept":
                conn, _ = listener.accept()
                pid = _start_job(conn, shared, jobs)
                if pid:
                    jobs[pid] = conn
                    selector.register(conn, selectors.EVENT_READ, pid)
                else:
                    conn.close()
            elif key.data == "reap":
                wake_r.recv(4096)
            else:
                _from_client(key.fileobj, key.data, jobs, selector)
        _reap(jobs, selector)
        if jobs:
            idle_since = time.monotonic()
    path.unlink(missing_ok=True)
    listener.close()
    lock.close()  # free for the next server now, not after this one's slow shutdown
    return 0


def _warm_up() -> None:
    """Import what a training job imports, so each fork starts warm (and a job never
    imports package code from a repository copy deleted since)."""
    import importlib

    from transferability import provenance

    from . import steps as runtime_steps

    for step in STEPS:
        for module in provenance.modules_of(step):
            importlib.import_module(f"{PACKAGE.name}.{module}")
    runtime_steps.parser()


def _start_job(conn: socket.socket, shared: list, jobs: dict) -> int | None:
    try:
        message, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
        request = json.loads(message)
    except (OSError, ValueError):
        return None
    if len(fds) != 3 or _gone(conn):  # a client that gave up waiting runs its job itself
        for fd in fds:
            os.close(fd)
        return None
    # The job's fork first becomes the caller's process (limits, CPU set, niceness) and
    # says over `ready` whether it could; if not, it runs nothing and the client runs the
    # job in its own process.
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _run_job(request, fds, shared + [conn] + list(jobs.values()), ready_w)
    os.close(ready_w)
    for fd in fds:
        os.close(fd)
    with os.fdopen(ready_r, "rb") as ready:
        verdict = ready.read().decode() or "the job's process died before it started"
    reply = {"started": pid} if verdict == "ok" else {"refused": verdict}
    try:
        conn.send(json.dumps(reply).encode())
    except OSError:
        os.killpg(pid, signal.SIGKILL)
        return None
    return pid if verdict == "ok" else None


def _gone(conn: socket.socket) -> bool:
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _run_job(request: dict, fds: list[int], inherited: list, ready: int) -> None:
    """In the fork: become the client's process (process attributes, streams, folder,
    environment, argv), run the step, exit with its code. Never returns."""
    code = 1
    try:
        os.setpgid(0, 0)  # one group: the server can signal the job and anything it starts
        identity.die_with_parent()
        refused = identity.become(request["process"])
        os.write(ready, (refused or "ok").encode())
        os.close(ready)
        if refused:
            os._exit(0)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        for thing in inherited:
            thing.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # the job's TMPDIR, not the one the server saw first
        from .steps import PROG, main

        sys.argv = [PROG, *request["argv"]]
        print(
            f"[shared training process {os.getppid()}: {ENABLE_ENV}=0 gives each job its own]",
            file=sys.stderr,
            flush=True,
        )
        code = main(request["argv"])
    except SystemExit as e:  # argparse's usage errors
        code = e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:  # as Python itself ends: the traceback, then death by SIGINT
        traceback.print_exc()
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _from_client(conn: socket.socket, pid: int, jobs: dict, selector) -> None:
    try:
        message = conn.recv(256)
    except OSError:
        message = b""
    if message:
        _signal_job(pid, json.loads(message)["signal"])
    else:  # the client is gone (killed): so is its job, as if it had run in the client
        selector.unregister(conn)
        _signal_job(pid, signal.SIGKILL)


def _signal_job(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _reap(jobs: dict, selector) -> None:
    while True:  # jobs, and forks that refused a job
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = jobs.pop(pid, None)
        if conn is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode())
        conn.close()


if __name__ == "__main__":
    os._exit(serve(Path(sys.argv[1])))  # skip torch's shutdown: nothing is left to flush
