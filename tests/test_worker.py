"""The shared training process (transferability_runtime/shared_process.py): a job run in it
gives the numbers, outputs, errors and exit codes it gives in its own process, and it lives
and dies with its client (the process Snakemake started) as a job in its own process would."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from transferability_runtime import shared_process

from .support import (
    ANNOUNCED,
    REPO,
    children,
    job_env,
    run_job,
    server_socket,
    start_job,
    tiny_config,
    train_base_argv,
    venv_env,
)


@pytest.fixture
def runtime():
    """Each test's server is its own: a private runtime folder (short: a socket's path
    has at most 107 bytes, and pytest's tmp_path is long)."""
    folder = Path(tempfile.mkdtemp(prefix="tw-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def weights(path: Path) -> dict:
    import torch

    checkpoint = torch.load(path, weights_only=True)
    return {k: v.tolist() for k, v in checkpoint["state_dict"].items()} | {
        "identity": checkpoint["identity"]
    }


def metrics(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k != "train_seconds"}


def cell_argv(cache: Path, split: Path, base: Path, out: Path) -> list[str]:
    from transferability import grid

    settings = json.dumps(grid.train_settings(tiny_config(), "selffer"))
    return [
        "train-cell", "--cache", str(cache), "--split-file", str(split), "--split", "random0",
        "--target", "A", "--treatment", "selffer", "--n", "3", "--seed", "0",
        "--base", str(base), "--settings", settings, "--out-metrics", str(out),
    ]  # fmt: skip


def test_jobs_in_the_shared_process_equal_jobs_in_their_own(
    tmp_path, runtime, fake_cache, split_file
):
    outcome = {}
    for shared in (False, True):
        out = tmp_path / ("shared" if shared else "own")
        base_log, cell_log = out / "base.log", out / "cell.log"
        out.mkdir()
        environment = job_env(runtime, shared)
        assert run_job(train_base_argv(fake_cache, split_file, out), environment, base_log) == 0
        argv = cell_argv(fake_cache, split_file, out / "model.pt", out / "cell.json")
        assert run_job(argv, job_env(runtime, shared), cell_log) == 0
        logs = base_log.read_text() + cell_log.read_text()
        assert len(ANNOUNCED.findall(logs)) == (2 if shared else 0), logs
        assert "top1" in base_log.read_text() and "top1" in cell_log.read_text()
        outcome[shared] = (
            weights(out / "model.pt"),
            metrics(out / "metrics.json"),
            metrics(out / "cell.json"),
        )
    assert outcome[True] == outcome[False]


def test_the_job_has_the_clients_folder_environment_and_umask(
    tmp_path, runtime, fake_cache, split_file
):
    first = tmp_path / "first"  # starts the server, under umask 022
    argv = train_base_argv(fake_cache, split_file, first)
    assert run_job(argv, job_env(runtime, True), tmp_path / "log") == 0
    out = tmp_path / "out"
    client = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "transferability_runtime",
            *train_base_argv(fake_cache, split_file, out),
        ],
        cwd=tmp_path,
        env=job_env(runtime, True, TMPDIR=str(tmp_path)),
        preexec_fn=lambda: os.umask(0o077),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = client.communicate(timeout=300)[0]
    assert client.returncode == 0 and ANNOUNCED.search(output), output
    assert (first / "metrics.json").stat().st_mode & 0o777 == 0o644
    assert (out / "metrics.json").stat().st_mode & 0o777 == 0o600  # the second job's umask


def test_errors_and_exit_codes_pass_through(tmp_path, runtime, fake_cache, split_file):
    """A step's error message (exit 1) and argparse's usage error (exit 2) read the same."""
    missing = train_base_argv(fake_cache, tmp_path / "no-such-split.json", tmp_path / "out")
    for argv, code in ((missing, 1), (["train-base", "--no-such-flag"], 2)):
        seen = {}
        for shared in (False, True):
            log = tmp_path / f"{code}-{shared}.log"
            assert run_job(argv, job_env(runtime, shared), log) == code
            text = log.read_text()
            assert bool(ANNOUNCED.search(text)) == shared
            seen[shared] = ANNOUNCED.sub("", text).split("\n", 1)[-1] if shared else text
        assert seen[True] == seen[False]
        assert "no-such-split.json" in seen[True] or "arguments are required" in seen[True]
    assert not (tmp_path / "out").exists()


def long_job(
    tmp_path: Path, runtime: Path, cache: Path, split: Path
) -> tuple[subprocess.Popen, int, int, Path]:
    """A base net training for many epochs through the shared process: the client, the
    server's pid and the job's pid (the server's child)."""
    out = tmp_path / "long"
    argv = train_base_argv(cache, split, out, epochs=500)
    log = tmp_path / "long.log"
    client = start_job(argv, job_env(runtime, True), log)
    deadline = time.monotonic() + 120
    while not (found := ANNOUNCED.search(log.read_text())) or "epoch 1:" not in log.read_text():
        assert client.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the job did not start in the shared process"
        time.sleep(0.1)
    server = int(found.group(1))
    (job,) = children(server)
    return client, server, job, out


def wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    state = Path(f"/proc/{pid}/stat")
    if state.exists():  # a zombie is dead: its parent has not reaped it yet
        assert state.read_text().split(") ")[1][0] == "Z", f"process {pid} still runs"


def test_a_killed_client_takes_its_job_with_it(tmp_path, runtime, fake_cache, split_file):
    """SIGKILL of the process Snakemake started (a cancelled or killed job)."""
    client, server, job, out = long_job(tmp_path, runtime, fake_cache, split_file)
    client.kill()
    client.wait(timeout=30)
    wait_gone(job)
    assert not (out / "metrics.json").exists()
    assert Path(f"/proc/{server}").exists(), "the server serves on"


def test_ctrl_c_reaches_the_job_and_the_client_dies_of_it(
    tmp_path, runtime, fake_cache, split_file
):
    client, _, job, out = long_job(tmp_path, runtime, fake_cache, split_file)
    client.send_signal(signal.SIGINT)
    assert client.wait(timeout=60) == -signal.SIGINT
    wait_gone(job)
    assert "KeyboardInterrupt" in (tmp_path / "long.log").read_text()
    assert not (out / "metrics.json").exists()


def test_the_server_exits_when_idle(tmp_path, runtime, fake_cache, split_file):
    environment = job_env(runtime, True, **{shared_process.IDLE_ENV: "1"})
    log = tmp_path / "base.log"
    assert run_job(train_base_argv(fake_cache, split_file, tmp_path / "out"), environment, log) == 0
    server = int(ANNOUNCED.search(log.read_text()).group(1))
    wait_gone(server)
    assert not list(runtime.rglob("*.sock"))


def test_a_server_shutting_down_keeps_no_job_waiting(tmp_path, runtime, fake_cache, split_file):
    """A job that arrives while an idle server exits (holding the lock a new server
    needs) is served by the next server as soon as the lock is free."""
    environment = job_env(runtime, True)
    path = server_socket(environment)
    log = tmp_path / "job.log"
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = start_job(
            train_base_argv(fake_cache, split_file, tmp_path / "out"), environment, log
        )
        time.sleep(1.5)
        assert client.poll() is None
    assert client.wait(timeout=50) == 0  # well before the client's 60 s give-up
    assert ANNOUNCED.search(log.read_text()), log.read_text()


def test_each_code_interpreter_and_thread_setting_gets_its_own_server(tmp_path, monkeypatch):
    package = tmp_path / "transferability"
    shutil.copytree(shared_process.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(shared_process, "PACKAGE", package)
    key = shared_process.server_key()
    monkeypatch.setenv("TRANSFERABILITY_DEVICE", "cpu")  # read by each job: the same server
    assert shared_process.server_key() == key
    solver = package / "training/solver.py"  # a module in a subpackage counts too
    solver.write_text(solver.read_text() + "\n# edit\n")
    edited = shared_process.server_key()
    assert edited != key
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # read when torch loads: another server
    assert shared_process.server_key() not in (key, edited)


def test_off_on_slurm_when_asked_and_for_other_steps(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv(shared_process.ENABLE_ENV, raising=False)
    assert shared_process.enabled(["train-cell"]) and shared_process.enabled(["train-base"])
    assert not shared_process.enabled(["aggregate"]) and not shared_process.enabled([])
    monkeypatch.setenv(shared_process.ENABLE_ENV, "0")
    assert not shared_process.enabled(["train-cell"])
    monkeypatch.setenv(shared_process.ENABLE_ENV, "1")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert not shared_process.enabled(["train-cell"])
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv("APPTAINER_CONTAINER", "/images/train.sif")
    assert not shared_process.enabled(["train-cell"])


def test_no_sharing_through_a_folder_others_can_enter_or_a_path_too_long(
    tmp_path, runtime, monkeypatch
):
    deep = tmp_path / ("long" * 20)
    deep.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    assert shared_process.socket_path() is None
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    folder = runtime / f"transferability-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o777)
    assert shared_process.socket_path() is None
    folder.chmod(0o700)
    assert shared_process.socket_path().parent == folder


def test_the_client_alone_stays_light():
    """The client must not import torch: that is the cost the shared process saves."""
    probe = "import sys, transferability_runtime.shared_process; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=venv_env() | {"PYTHONPATH": str(REPO / "workflow")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
