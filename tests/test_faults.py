"""Faults: a run killed mid-way and restarted ends where an uninterrupted run ends, and a
second snakemake on a running directory is turned away without harm.

All runs use the TINY config of the workflow test and the real Fashion-MNIST images; one
uninterrupted reference run is shared by every test here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .support import (
    ANNOUNCED,
    FASHION_MNIST_ROOT,
    REPO,
    TINY,
    children,
    job_env,
    run_job,
    server_socket,
    snakemake,
    start_job,
    start_snakemake,
    train_base_argv,
    venv_env,
)

pytestmark = pytest.mark.faults

# Differ from run to run by nature, not by result: wall time, and the epoch a net killed
# mid-training resumed from (results/resume/; equal results are tests/test_resume.py's job).
VOLATILE = {"train_seconds", "resumed_from_epoch"}


def tiny_args(workdir: Path, *args: str) -> tuple[str, ...]:
    return ("--cores", "2", "--configfile", str(workdir / "tiny.yaml"), *args)


def run(workdir: Path, *args: str, timeout: float = 600):
    return snakemake(workdir, *tiny_args(workdir, *args), timeout=timeout)


def start(workdir: Path, *args: str) -> subprocess.Popen:
    """Snakemake as a terminal runs a foreground command: in a process group of its own,
    which its jobs (the shell commands it spawns) share, with SIGINT at its default (a
    background launcher such as `make ... &` or CI may have set it to ignored). Output
    goes to a file: a pipe nobody reads would fill and stall the run."""
    with (workdir / "snakemake.out").open("w") as output:
        return start_snakemake(
            workdir,
            *tiny_args(workdir, *args),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def finish(proc: subprocess.Popen, workdir: Path, timeout: float) -> str:
    proc.wait(timeout=timeout)
    return (workdir / "snakemake.out").read_text()


def new_workdir(tmp_path_factory, name: str) -> Path:
    if not FASHION_MNIST_ROOT.is_dir():
        pytest.fail("install Debian's dataset-fashion-mnist first (make data)")
    workdir = tmp_path_factory.mktemp(name)
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    return workdir


def wait_for_cells(workdir: Path, proc: subprocess.Popen, count: int, timeout: float = 600):
    """Block until `count` cells are done (mid-run), failing if the run ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((workdir / "results/cells").rglob("metrics.json"))) >= count:
            return
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.2)
    pytest.fail(f"no {count} cells after {timeout} s")


def results(workdir: Path) -> dict[str, object]:
    """Every net's metrics (minus wall time) and every base net's weights, by path."""
    import torch

    found: dict[str, object] = {}
    for path in sorted((workdir / "results").rglob("metrics.json")):
        record = json.loads(path.read_text())
        found[str(path.relative_to(workdir))] = {
            k: v for k, v in record.items() if k not in VOLATILE
        }
    for path in sorted((workdir / "results").rglob("model.pt")):
        checkpoint = torch.load(path, weights_only=True)
        state = checkpoint["state_dict"]
        found[str(path.relative_to(workdir))] = {k: v.tolist() for k, v in state.items()} | {
            "identity": checkpoint["identity"]
        }
    for name in ("splits/random0.json", "splits/dissimilar.json", "claims.md"):
        found[name] = (workdir / "results" / name).read_text()
    return found


def finished_files(workdir: Path) -> dict[Path, bytes | None]:
    """What a run has written for good, with its bytes: not the per-epoch training states
    under results/resume/ nor the atomic writer's temporary files, which the run itself
    removes as it goes. Logs only by name: a running job's log still grows."""
    transient = set(leftovers(workdir))
    found: dict[Path, bytes | None] = {}
    for path in (workdir / "results").rglob("*"):
        parts = path.relative_to(workdir / "results").parts
        if path.is_file() and path not in transient and parts[0] != "resume":
            found[path] = None if parts[0] == "logs" else path.read_bytes()
    return found


def leftovers(workdir: Path) -> list[Path]:
    """Temporary files of the atomic writer that a killed job could leave behind."""
    return [p for p in (workdir / "results").rglob(".*.tmp*") if p.is_file()]


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> Path:
    """The folder of one uninterrupted run (copy it before changing anything)."""
    workdir = new_workdir(tmp_path_factory, "reference")
    result = run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.fixture(scope="module")
def reference(complete) -> dict:
    return results(complete)


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table: jobs per rule."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


@pytest.mark.parametrize(
    "deleted, trained",
    [
        # A base net: it, and the 8 cells copied from it (retrained: a cell never cites a
        # checkpoint other than the one it was trained on).
        ("base/random0/A/seed0/model.pt", {"train_base": 1, "train_cell": 8}),
        # A split file: the split's 2 base nets and 20 cells.
        ("splits/random0.json", {"make_split": 1, "train_base": 2, "train_cell": 20}),
        ("cells/random0/B/transfer/n7/seed0/metrics.json", {"train_cell": 1}),
    ],
)
def test_a_deleted_output_is_made_again_by_the_next_plain_run(
    tmp_path, complete, reference, deleted, trained
):
    """Snakemake remakes a missing file only where a job that runs needs it; every net's
    files are inputs of `all`, so a deleted one is missed, and made again."""
    workdir = tmp_path / "run"
    shutil.copytree(complete, workdir, symlinks=True)  # copy2: modification times kept
    (workdir / "results" / deleted).unlink()
    rerun = run(workdir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    counts = job_counts(rerun.stdout + rerun.stderr)
    assert {k: v for k, v in counts.items() if k in TRAINING} == trained
    assert counts["aggregate"] == 1
    assert results(workdir) == reference
    assert "Nothing to be done" in run(workdir).stderr


TRAINING = ("prepare_data", "make_split", "train_base", "train_cell")


def test_sigkill_of_the_whole_run_then_rerun_incomplete_gives_the_same_results(
    tmp_path_factory, reference
):
    """`kill -9` of snakemake and its jobs (a crash, an OOM kill, a lost node): nothing
    cleans up, so incomplete outputs and the lock stay; `--unlock` then
    `--rerun-incomplete` finish the run."""
    workdir = new_workdir(tmp_path_factory, "sigkill")
    proc = start(workdir)
    wait_for_cells(workdir, proc, 3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)

    # Whatever the kill left is either complete or absent: every metrics file parses.
    for path in (workdir / "results").rglob("metrics.json"):
        json.loads(path.read_text())

    # What the user meets, in order: the incomplete files of the jobs the kill cut short
    # (if it came while one ran: it usually does, but jobs take well under a second to
    # start), then the lock the kill left.
    stale = run(workdir)
    assert stale.returncode != 0
    if "Incomplete files" in stale.stderr:
        assert "--rerun-incomplete" in stale.stderr
        stale = run(workdir, "--rerun-incomplete")
        assert stale.returncode != 0
    assert "Directory cannot be locked" in stale.stderr and "--unlock" in stale.stderr
    assert run(workdir, "--unlock").returncode == 0
    resumed = run(workdir, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert results(workdir) == reference
    assert leftovers(workdir) == []


def test_ctrl_c_then_rerun_incomplete_gives_the_same_results(tmp_path_factory, reference):
    """Ctrl-C sends SIGINT to the foreground process group: snakemake and its jobs."""
    workdir = new_workdir(tmp_path_factory, "ctrl-c")
    proc = start(workdir)
    wait_for_cells(workdir, proc, 3)
    os.killpg(proc.pid, signal.SIGINT)
    output = finish(proc, workdir, timeout=120)
    assert proc.returncode != 0, output[-3000:]

    resumed = run(workdir, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert results(workdir) == reference
    assert leftovers(workdir) == []


def test_a_second_snakemake_on_a_running_directory_is_refused_and_harms_nothing(
    tmp_path_factory, reference
):
    """A second snakemake (plain or --rerun-incomplete) meets Snakemake's own lock; it
    deletes nothing and the first run ends as if alone. (After an --unlock, a second writer
    of a net being trained stops at once: test_provenance_content's one-writer test.)"""
    workdir = new_workdir(tmp_path_factory, "locked")
    first = start(workdir)
    wait_for_cells(workdir, first, 1)
    before = finished_files(workdir)

    # Snakemake's own answers: its lock, or (as timing has it) the first run's incomplete
    # outputs ("rerun with --rerun-incomplete"), which then meets the lock.
    for flags in ((), ("--rerun-incomplete",)):
        refused = run(workdir, *flags, timeout=300)
        assert refused.returncode != 0
        said = refused.stderr
        assert "Directory cannot be locked" in said or "--rerun-incomplete" in said, said[-2000:]
    after = finished_files(workdir)
    assert {p: after.get(p, "missing") for p in before} == before, "refused runs harmed files"
    assert first.poll() is None or first.returncode == 0

    output = finish(first, workdir, timeout=600)
    assert first.returncode == 0, output[-3000:]
    assert results(workdir) == reference


def test_a_rerun_removes_the_temporary_file_a_killed_writer_left(tmp_path):
    """A SIGKILLed job cannot clean up its temporary file; the job's rerun does."""
    from transferability.atomic import write_text

    stale = tmp_path / ".metrics.tmp4242.json"
    stale.write_text('{"half": ')
    unrelated = tmp_path / ".model.tmp4242.pt"
    unrelated.write_bytes(b"another output's")
    write_text(tmp_path / "metrics.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.tmp4242.pt", "metrics.json"]


# --- a full disk ------------------------------------------------------------------------

FULL_DISK = """
import sys, torch
from pathlib import Path
from transferability.atomic import torch_save
from transferability.training.resume_state import ResumeState
from transferability.errors import DataError

folder = Path(sys.argv[1])
state = {"w": torch.zeros(200_000)}
for name, save in (
    ("model.pt", lambda path: torch_save(state, path)),
    ("resume.pt", lambda path: ResumeState(path, "key").save(state)),
):
    try:
        save(folder / name)
    except DataError as e:
        print(e)
print(sorted(p.name for p in folder.iterdir()))
"""


def test_a_full_disk_under_torch_save_is_reported_as_one(tmp_path):
    """torch.save's C++ stream raises RuntimeError("unexpected pos ..."), not OSError: the
    writer asks the disk and says it is full. On a real 256 KiB tmpfs (a user namespace of
    its own, so no root is needed where unshare is allowed)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    mount = tmp_path / "full"
    mount.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK)
    shell = f'mount -t tmpfs -o size=256k tmpfs "{mount}" && exec "$0" "{script}" "{mount}"'
    env = venv_env() | {"PYTHONPATH": str(REPO / "workflow")}
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", shell, sys.executable],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0 and "mount" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, line in zip(("model.pt", "resume.pt"), lines, strict=False):
        assert line.startswith(f"{mount}/{name}: no space left on the device"), lines
    assert lines[-1] == "[]", "nothing partial is kept"
    assert "unexpected pos" not in result.stdout + result.stderr


# --- the shared training process ---------------------------------------------------------


@pytest.fixture
def private_runtime():
    """A server of this test's own (see tests/test_worker.py)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tf-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _server_of(log: Path) -> int:
    return int(ANNOUNCED.search(log.read_text()).group(1))


def _first_job(tmp_path: Path, runtime: Path, cache: Path, split: Path) -> tuple[dict, int]:
    """One job through the shared process (starting it): its environment and server pid."""
    environment = job_env(runtime, True)
    first = tmp_path / "first.log"
    assert run_job(train_base_argv(cache, split, tmp_path / "a"), environment, first) == 0
    return environment, _server_of(first)


def _end(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)


def test_a_stopped_server_does_not_hang_jobs(tmp_path, private_runtime, fake_cache, split_file):
    """kill -STOP on the shared process: a new job waits HANDOFF_SECONDS, then runs in its
    own process; a job already running ends and its client learns its exit code from the
    zombie it left."""
    from transferability_runtime import shared_process

    environment, server = _first_job(tmp_path, private_runtime, fake_cache, split_file)
    try:
        argv = train_base_argv(fake_cache, split_file, tmp_path / "b", epochs=40)
        running = tmp_path / "running.log"
        client = start_job(argv, environment, running)
        deadline = time.monotonic() + 120
        while "epoch 1:" not in running.read_text():
            assert client.poll() is None and time.monotonic() < deadline, running.read_text()
            time.sleep(0.05)
        os.kill(server, signal.SIGSTOP)
        assert client.wait(timeout=300) == 0, running.read_text()
        assert (tmp_path / "b" / "metrics.json").exists()

        later = tmp_path / "later.log"
        began = time.monotonic()
        argv = train_base_argv(fake_cache, split_file, tmp_path / "c")
        assert run_job(argv, environment, later) == 0, later.read_text()
        text = later.read_text()
        assert f"took no job in {shared_process.HANDOFF_SECONDS:g} s" in text
        assert not ANNOUNCED.search(text)
        assert time.monotonic() - began < shared_process.HANDOFF_SECONDS + 120
    finally:
        _end(server)


def test_a_folder_at_the_socket_path(tmp_path, private_runtime, fake_cache, split_file):
    environment = job_env(private_runtime, True)
    path = server_socket(environment)
    Path(path).mkdir()
    log = tmp_path / "job.log"
    assert run_job(train_base_argv(fake_cache, split_file, tmp_path / "out"), environment, log) == 0
    text = log.read_text()
    assert f"{path} is not the shared training process's socket; remove it" in text
    assert not ANNOUNCED.search(text) and text.count("\n[") == 0
    assert [p for p in private_runtime.rglob("*.sock") if not p.is_dir()] == [], "no server"


def _attributes(pid: int) -> dict:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = Path(f"/proc/{pid}/status").read_text()
    limits = Path(f"/proc/{pid}/limits").read_text()
    return {
        "nice": int(stat[16]),
        "cpus": re.search(r"Cpus_allowed_list:\s*(\S+)", status).group(1),
        "nofile": re.search(r"Max open files\s+(\d+)\s+(\d+)", limits).groups(),
    }


def test_the_job_has_the_callers_niceness_cpu_set_and_limits(
    tmp_path, private_runtime, fake_cache, split_file
):
    """`nice -n 7 taskset -c 0 prlimit --nofile=200:300 ...`: the job's fork takes them on;
    a memory limit (ulimit -v) the fork cannot honour as a fresh process would sends the
    job to a process of its own."""
    if len(os.sched_getaffinity(0)) < 2 or shutil.which("prlimit") is None:
        pytest.skip("needs two CPUs and prlimit")
    environment, server = _first_job(tmp_path, private_runtime, fake_cache, split_file)
    try:
        argv = train_base_argv(fake_cache, split_file, tmp_path / "b", epochs=500)
        cpu = min(os.sched_getaffinity(0))
        wrapper = ["nice", "-n", "7", "taskset", "-c", str(cpu), "prlimit", "--nofile=200:300"]
        log = tmp_path / "limited.log"
        with log.open("w") as out:
            client = subprocess.Popen(
                [*wrapper, sys.executable, "-m", "transferability_runtime", *argv],
                stdout=out, stderr=subprocess.STDOUT, env=environment,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while "epoch 1:" not in log.read_text():
                assert client.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            assert ANNOUNCED.search(log.read_text()), "the job ran in the shared process"
            (job,) = children(server)
            assert _attributes(job) == {"nice": 7, "cpus": str(cpu), "nofile": ("200", "300")}
        finally:
            client.kill()
            client.wait(timeout=30)

        memory = tmp_path / "memory.log"
        limited = ["prlimit", f"--as={64 << 30}", sys.executable, "-m", "transferability_runtime"]
        argv = train_base_argv(fake_cache, split_file, tmp_path / "c")
        with memory.open("w") as out:
            code = subprocess.run(
                [*limited, *argv], stdout=out, stderr=subprocess.STDOUT, env=environment
            ).returncode
        text = memory.read_text()
        assert code == 0, text
        assert "[own process: the caller's RLIMIT_AS" in text and not ANNOUNCED.search(text)
    finally:
        _end(server)


def test_sigkill_of_a_job_in_the_shared_process_reads_as_killed(
    tmp_path, private_runtime, fake_cache, split_file
):
    """What the out-of-memory killer does: the job's client dies of the same signal (exit
    status 137, as without the shared process), after one line saying what happened; it
    used to end in an OSError traceback from signal.signal(SIGKILL, ...) and status 1."""
    environment = job_env(private_runtime, True)
    log = tmp_path / "job.log"
    client = start_job(
        train_base_argv(fake_cache, split_file, tmp_path / "out", 500), environment, log
    )
    deadline = time.monotonic() + 120
    while not ANNOUNCED.search(log.read_text()) or "epoch 1:" not in log.read_text():
        assert client.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    server = _server_of(log)
    try:
        (job,) = children(server)
        os.kill(job, signal.SIGKILL)
        assert client.wait(timeout=60) == -signal.SIGKILL
    finally:
        _end(server)
    text = log.read_text()
    assert "the job was killed by SIGKILL (exit status 137), likely by the out-of-memory" in text
    assert "Traceback" not in text and "OSError" not in text
