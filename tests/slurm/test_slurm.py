"""The workflow through a real SLURM cluster (a one-node cluster on 127.0.0.1 started by
tests/slurm/cluster.sh) with the repository's own `slurm` profile, as a user types it:
`snakemake --profile slurm`, overriding only what this small local cluster needs.

These tests skip, with the reason, only where the cluster cannot be started (not root,
SLURM not installed, a daemon that will not come up); under `make test` (and so in CI)
TRANSFERABILITY_SLURM_TESTS=required turns that skip into a failure.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ..support import (
    FASHION_MNIST_ROOT,
    REPO,
    copy_repository,
    expected_nets,
    resolved,
    snakemake,
    start_snakemake,
)

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(1800)]

CLUSTER_SCRIPT = REPO / "tests/slurm/cluster.sh"
REQUIRED = os.environ.get("TRANSFERABILITY_SLURM_TESTS") == "required"

# Only what the local cluster needs: its node has the machine's CPUs (the profile allows
# 8 per job), and jobs here take seconds, so the first status check need not wait 40 s.
LOCAL_CLUSTER_ARGS = [
    "--cores",
    str(os.cpu_count()),
    # The GPU rules' partition, which the shipped profile leaves for the user to name.
    "--set-resources",
    "train_base:slurm_partition=debug",
    "train_cell:slurm_partition=debug",
    "train_reference:slurm_partition=debug",
    "check_driver:slurm_partition=debug",
    "--slurm-init-seconds-before-status-checks",
    "1",
]

# One random split, n = 1: 2 base nets and 10 cells (one group job), real images. The
# local cluster's GPU gres is /dev/null (jobs see CUDA_VISIBLE_DEVICES but no GPU), so
# the CPU run is declared: without it a training job stops (transferability/training/device.py).
SMALL = {
    "device": "cpu",
    "subset": {"train_per_class": 40, "val_per_class": 10, "test_per_class": 20},
    "splits": {"random": 1, "dissimilar": {"enabled": False}},
    "layers": [1],
    "training": {"base": {"epochs": 1}},
}
# A base net with epochs long enough to be killed in the middle of its training.
LONG_BASE = {
    "device": "cpu",
    "subset": {"train_per_class": 600, "val_per_class": 20, "test_per_class": 50},
    "splits": {"random": 1, "dissimilar": {"enabled": False}},
    "training": {"base": {"epochs": 10}},
}
BASE_TARGET = "results/base/random0/A/seed0/metrics.json"
BASE_STATE = "results/resume/base/random0/A/seed0.pt"
# What may differ between two runs of the same net: timings, host, how it got there.
CIRCUMSTANCES = {"train_seconds", "host", "resumed_from_epoch"}
# ... and what the job was given (jobinfo.py): a SLURM job id, a GPU allocation.
CIRCUMSTANCES |= {"slurm_job_id", "gpu_requested", "gpu_evidence", "device_forced"}


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the local SLURM cluster needs root (it writes /etc/slurm and starts daemons)"
    missing = [t for t in ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "sacct")
               if shutil.which(t) is None]  # fmt: skip
    if missing:
        return f"not installed: {', '.join(missing)} (make slurm-packages)"
    return None


def _cannot_start(reason: str):
    if REQUIRED:
        pytest.fail(f"SLURM tests are required here but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster():
    if reason := _unavailable():
        _cannot_start(reason)
    status = subprocess.run([str(CLUSTER_SCRIPT), "status"], capture_output=True, text=True)
    if "slurmctld -" not in status.stdout:  # up already (e.g. the benchmark's): not ours
        yield
        return
    try:
        start = subprocess.run(
            [str(CLUSTER_SCRIPT), "start"], capture_output=True, text=True, timeout=300
        )
        failed = start.returncode != 0 and f"slurmctld could not be started: {start.stderr[-2000:]}"
    except subprocess.TimeoutExpired:
        failed = "the cluster did not come up within 300 s"
    try:
        if failed:
            _cannot_start(failed)
        yield
    finally:
        subprocess.run([str(CLUSTER_SCRIPT), "stop"], capture_output=True, timeout=180)


def clone(tmp: Path, config: dict) -> Path:
    """The repository's files (tracked and new) in `tmp`, sharing this virtual env."""
    if not FASHION_MNIST_ROOT.is_dir():
        pytest.fail("install Debian's dataset-fashion-mnist first (make data)")
    copy_repository(tmp)
    (tmp / ".venv").symlink_to(Path(sys.executable).parents[1])
    (tmp / "test.yaml").write_text(yaml.safe_dump(config))
    return tmp


def snakemake_args(*args: str, slurm: bool = True) -> list[str]:
    cmd = ["--configfile", "test.yaml"]
    if slurm:
        cmd += ["--profile", "slurm", *LOCAL_CLUSTER_ARGS]
    else:
        cmd += ["--cores", "2"]
    return [*cmd, *args]


def run(workdir: Path, *args: str, slurm: bool = True, timeout: float = 1200):
    result = snakemake(workdir, *snakemake_args(*args, slurm=slurm), clone=True, timeout=timeout)
    (workdir / f"snakemake-{'slurm' if slurm else 'local'}.log").write_text(result.stderr)
    return result


def run_id(log: str) -> str:
    line = next(line for line in log.splitlines() if line.startswith("SLURM run ID:"))
    return line.split(":", 1)[1].strip()


def sacct_jobs(name: str) -> list[dict]:
    """Every SLURM job of one Snakemake run (the plugin names them by the run's ID)."""
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", "now-1day", f"--name={name}",
         "-o", "JobID,State,Comment,AllocTRES"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    keys = ("id", "state", "comment", "tres")
    return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines()]


def metrics_without_circumstances(path: Path) -> dict:
    record = json.loads(path.read_text())
    return {k: v for k, v in record.items() if k not in CIRCUMSTANCES}


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = clone(tmp_path_factory.mktemp("slurm-run"), SMALL)
    result = run(workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir, result.stderr


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    workdir = clone(tmp_path_factory.mktemp("local-run"), SMALL)
    result = run(workdir, slurm=False)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_the_slurm_profile_is_found_by_name_with_the_workflow_profile(slurm_run):
    _, log = slurm_run
    assert "Using profiles slurm and workflow specific profile profiles/default" in log


def test_every_job_went_through_slurm_and_completed(slurm_run):
    _, log = slurm_run
    jobs = sacct_jobs(run_id(log))
    comments = sorted(j["comment"] for j in jobs)
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    # 10 cells in one group job, not 10 jobs; the rest one job per rule instance.
    assert comments.count("rule_cells_train_cell") == 1, comments
    assert sum(c.startswith("rule_train_base") for c in comments) == 2, comments
    assert "rule_prepare_data" in comments, comments
    assert "rule_train_reference" in comments, comments  # the task distance's net
    # The seconds-long rules ran on the submitting node (localrules), not as SLURM jobs.
    for rule in ("make_split", "task_distance", "aggregate", "figures", "claims", "tables"):
        assert not [c for c in comments if c.startswith(f"rule_{rule}")], comments
        assert f"localrule {rule}:" in log
    assert len(jobs) == 5


def test_training_jobs_got_a_gpu_and_the_others_did_not(slurm_run):
    _, log = slurm_run
    for job in sacct_jobs(run_id(log)):
        training = "train" in job["comment"]
        assert ("gres/gpu=1" in job["tres"]) == training, job


def test_same_outputs_as_the_local_run(slurm_run, local_run):
    workdir, _ = slurm_run
    table = pd.read_parquet(workdir / "results/summary.parquet")
    rows = set(map(tuple, table[["split", "target", "treatment", "n", "seed"]].values.tolist()))
    assert rows == expected_nets(resolved(SMALL))
    for name in ("summary.csv", "claims.md", "figures/figure2.png", "figures/figure3.png"):
        assert (workdir / "results" / name).is_file()
    local = sorted((local_run / "results").glob("**/metrics.json"))
    assert len(local) == len(rows)
    for path in local:
        on_slurm = workdir / path.relative_to(local_run)
        assert metrics_without_circumstances(on_slurm) == metrics_without_circumstances(path)
    assert table["device"].eq("cpu").all()  # no CUDA here: the GPU gres is /dev/null


def test_a_training_job_given_a_gpu_it_cannot_use_stops_naming_the_cause(cluster, tmp_path_factory):
    """Without `device: cpu`, the job SLURM gave a GPU gres (here /dev/null, no driver)
    stops at once instead of training on the CPU."""
    workdir = clone(tmp_path_factory.mktemp("no-usable-gpu"), {**SMALL, "device": "auto"})
    result = run(workdir, "--retries", "0", BASE_TARGET)
    assert result.returncode != 0
    log = (workdir / "results/logs/train_base/random0/A/seed0.log").read_text()
    assert "error: this job was given a GPU (" in log, log[-2000:]
    assert "TRANSFERABILITY_DEVICE=cpu" in log and "epoch 1" not in log
    assert not (workdir / BASE_TARGET).exists()


def test_no_training_state_is_left_once_outputs_are_complete(slurm_run):
    workdir, _ = slurm_run
    assert not [p for p in (workdir / "results/resume").rglob("*") if p.is_file()]


def _training_pid(comment: str, timeout: float = 120) -> int:
    """The PID of the `python -m transferability_runtime` process of the job with this comment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "-h", "-o", "%i %k"], capture_output=True, text=True, timeout=30
        ).stdout.split("\n")
        for line in filter(None, queue):
            job, _, job_comment = line.partition(" ")
            if job_comment.strip() != comment:
                continue
            pids = subprocess.run(
                ["scontrol", "listpids", job], capture_output=True, text=True, timeout=30
            ).stdout.split("\n")[1:]
            for pid in (int(p.split()[0]) for p in pids if p.strip()):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"transferability_runtime" in cmdline and b"train-base" in cmdline:
                    return pid
        time.sleep(0.05)
    raise AssertionError(f"no training process of a job {comment!r} within {timeout} s")


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "snakemake ended before the first epoch was saved"
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.05)


def test_a_killed_training_job_resumes_from_its_last_epoch_with_identical_metrics(
    cluster, tmp_path_factory
):
    workdir = clone(tmp_path_factory.mktemp("killed"), LONG_BASE)
    # First run without the profile's retries, so the kill fails the run, as a
    # preemption past the retries would; then the user reruns the same command.
    with start_snakemake(
        workdir, *snakemake_args("--retries", "0", BASE_TARGET), clone=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    ) as first:  # fmt: skip
        try:
            _wait_for(workdir / BASE_STATE, first)
            os.kill(_training_pid("rule_train_base_wildcards_random0_A_0"), signal.SIGKILL)
            _, log = first.communicate(timeout=600)
        finally:
            if first.poll() is None:
                first.kill()
    assert first.returncode != 0, "the killed job should have failed the run"
    killed = sacct_jobs(run_id(log))
    assert any(j["state"] == "FAILED" and "train_base" in j["comment"] for j in killed), killed
    assert (workdir / BASE_STATE).is_file()  # Snakemake deleted outputs, not the state

    rerun = run(workdir, BASE_TARGET)
    assert rerun.returncode == 0, rerun.stderr[-5000:]
    metrics = json.loads((workdir / BASE_TARGET).read_text())
    train_log = (workdir / "results/logs/train_base/random0/A/seed0.log").read_text()
    epochs = LONG_BASE["training"]["base"]["epochs"]
    assert 1 <= metrics["resumed_from_epoch"] < epochs
    assert f"epoch {metrics['resumed_from_epoch']} of {epochs} was done" in train_log
    assert not (workdir / BASE_STATE).exists()
    rerun_jobs = sacct_jobs(run_id(rerun.stderr))
    assert [j["state"] for j in rerun_jobs if "train_base" in j["comment"]] == ["COMPLETED"]

    uninterrupted = clone(tmp_path_factory.mktemp("uninterrupted"), LONG_BASE)
    local = run(uninterrupted, BASE_TARGET, slurm=False)
    assert local.returncode == 0, local.stderr[-5000:]
    assert metrics_without_circumstances(workdir / BASE_TARGET) == metrics_without_circumstances(
        uninterrupted / BASE_TARGET
    )
    import torch

    model = BASE_TARGET.replace("metrics.json", "model.pt")
    resumed, clean = (torch.load(d / model)["state_dict"] for d in (workdir, uninterrupted))
    assert resumed.keys() == clean.keys()
    assert all(torch.equal(resumed[k], clean[k]) for k in clean)


def test_the_documented_commands_for_watching_progress_list_the_jobs(slurm_run):
    section = (REPO / "docs/cluster.md").read_text().split("**Watching progress.**")[1]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ")][:2]
    assert [c.split()[0] for c in commands] == ["squeue", "sacct"]
    outputs = [
        subprocess.run(
            ["bash", "-c", c], capture_output=True, text=True, check=True, timeout=60,
            env=dict(os.environ, USER=getpass.getuser()),
        ).stdout
        for c in commands
    ]  # fmt: skip
    assert outputs[0].split()[:5] == ["JOBID", "NAME", "COMMENT", "STATE", "TIME"]
    assert run_id(slurm_run[1])[:36] in outputs[1] and "rule_train_base" in outputs[1]
