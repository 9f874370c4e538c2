"""Faults: a run killed mid-way and restarted ends where an uninterrupted run ends, and a
second snakemake on a running directory is turned away without harm.

All runs use the TINY config of the workflow test and the real Fashion-MNIST images; one
uninterrupted reference run is shared by every test here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .conftest import FASHION_MNIST_ROOT, REPO, venv_env
from .test_workflow import TINY

pytestmark = pytest.mark.faults

# Differ from run to run by nature, not by result: wall time, and the epoch a net killed
# mid-training resumed from (results/resume/; equal results are tests/test_resume.py's job).
VOLATILE = {"train_seconds", "resumed_from_epoch"}


def command(workdir: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
        "--cores", "2", "--configfile", str(workdir / "tiny.yaml"), *args,
    ]  # fmt: skip


def run(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(workdir, *args),
        capture_output=True,
        text=True,
        env=venv_env(),
        timeout=timeout,
        check=False,
    )


def start(workdir: Path, *args: str) -> subprocess.Popen:
    """Snakemake as a terminal runs a foreground command: in a process group of its own,
    which its jobs (the shell commands it spawns) share, with SIGINT at its default (a
    background launcher such as `make ... &` or CI may have set it to ignored). Output
    goes to a file: a pipe nobody reads would fill and stall the run."""
    with (workdir / "snakemake.out").open("w") as output:
        return subprocess.Popen(
            command(workdir, *args),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=venv_env(),
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
        state = torch.load(path, weights_only=True)
        found[str(path.relative_to(workdir))] = {k: v.tolist() for k, v in state.items()}
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
def reference(tmp_path_factory) -> dict:
    workdir = new_workdir(tmp_path_factory, "reference")
    result = run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return results(workdir)


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
    """Started plainly, the second run stops at the outputs the first is writing (they
    look incomplete to it); with the `--rerun-incomplete` that message suggests, the lock
    stops it. Either way it deletes nothing and the first run ends as if alone."""
    workdir = new_workdir(tmp_path_factory, "locked")
    first = start(workdir)
    wait_for_cells(workdir, first, 1)
    before = finished_files(workdir)

    plain = run(workdir, timeout=300)
    assert plain.returncode != 0
    assert "Incomplete files" in plain.stderr or "Directory cannot be locked" in plain.stderr
    forced = run(workdir, "--rerun-incomplete", timeout=300)
    assert forced.returncode != 0
    assert "Directory cannot be locked" in forced.stderr
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
