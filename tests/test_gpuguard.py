"""A job that was given a GPU never trains on the CPU by accident: where SLURM's or CUDA's
variables list a device and torch sees none, it stops at once naming the cause (a CPU build
of torch, or a driver problem) and the fix; a CPU run on purpose is declared.
The environment is faked both ways (variables set or not, torch with or without CUDA)."""

from __future__ import annotations

import json

import pytest
import torch

from transferability import cli
from transferability.training import device

from .support import tiny_config

pytestmark = pytest.mark.gpuguard

NO_GPU_ENV = {name: "" for name in device.GPU_ENV}


@pytest.fixture
def clean_env(monkeypatch):
    """No GPU variables and no device choice, whatever the machine running the tests has."""
    for name in (*device.GPU_ENV, device.DEVICE_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def no_cuda(monkeypatch, build: str | None, init_error: str = "Found no NVIDIA driver"):
    """torch without a usable GPU: a CPU build (build None) or a CUDA build whose
    initialisation fails (a driver problem)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", build)

    def init():
        raise RuntimeError(f"{init_error} on your system.\nsecond line")

    monkeypatch.setattr(torch.cuda, "init", init)


@pytest.mark.parametrize(
    ("env", "given"),
    [
        ({"SLURM_JOB_GPUS": "0"}, "SLURM_JOB_GPUS=0"),
        ({"SLURM_STEP_GPUS": "1,3"}, "SLURM_STEP_GPUS=1,3"),
        ({"CUDA_VISIBLE_DEVICES": "GPU-5b2c"}, "CUDA_VISIBLE_DEVICES=GPU-5b2c"),
        ({"CUDA_VISIBLE_DEVICES": ""}, None),  # hides every GPU
        ({"CUDA_VISIBLE_DEVICES": "-1"}, None),
        ({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, None),  # SLURM: gres configured, none given
        ({}, None),
    ],
)
def test_gpu_given_reads_slurm_and_cuda_variables(env, given):
    assert device.gpu_given(env) == given


def test_given_a_gpu_with_a_cpu_build_of_torch_the_job_stops_naming_cause_and_fix(clean_env):
    no_cuda(clean_env, build=None)
    with pytest.raises(device.DeviceError) as e:
        device.pick({"SLURM_JOB_GPUS": "0"})
    message = str(e.value)
    assert "SLURM_JOB_GPUS=0" in message and "CPU build" in message
    assert "torch.version.cuda is None" in message and "--conda-cleanup-envs" in message
    assert "TRANSFERABILITY_DEVICE=cpu" in message  # the way to train on the CPU on purpose


def test_given_a_gpu_with_a_driver_problem_the_job_stops_naming_it(clean_env):
    no_cuda(clean_env, build="12.9")
    with pytest.raises(device.DeviceError) as e:
        device.pick({"CUDA_VISIBLE_DEVICES": "0"})
    message = str(e.value)
    assert "built for CUDA 12.9" in message and "driver problem" in message
    assert "Found no NVIDIA driver on your system." in message and "second line" not in message
    assert "nvidia-smi" in message


def test_asking_for_cuda_without_one_stops_even_with_no_gpu_given(clean_env):
    no_cuda(clean_env, build=None)
    with pytest.raises(device.DeviceError, match="TRANSFERABILITY_DEVICE=cuda asks for it"):
        device.pick({device.DEVICE_ENV: "cuda"})


@pytest.mark.parametrize("build", [None, "12.9"])
def test_cpu_on_purpose_or_no_gpu_given_trains_on_the_cpu(clean_env, build):
    no_cuda(clean_env, build=build)
    assert device.pick({"SLURM_JOB_GPUS": "0", device.DEVICE_ENV: "cpu"}).type == "cpu"
    assert device.pick(NO_GPU_ENV).type == "cpu"  # a laptop: nothing was given
    assert device.pick({}).type == "cpu"


def test_a_visible_gpu_is_used(clean_env):
    clean_env.setattr(torch.cuda, "is_available", lambda: True)
    assert device.pick({"SLURM_JOB_GPUS": "0"}).type == "cuda"
    assert device.pick({"SLURM_JOB_GPUS": "0", device.DEVICE_ENV: "cpu"}).type == "cpu"


def test_the_training_step_stops_before_reading_any_data(clean_env, tmp_path, capsys):
    """Through the CLI, on this machine's own torch (no GPU here): the error comes before
    the missing cache is even looked at, and the step exits 1 without a traceback."""
    clean_env.setenv("CUDA_VISIBLE_DEVICES", "0")
    from transferability import grid

    settings = json.dumps(grid.train_settings(tiny_config(), "base"))
    argv = ["train-base", "--cache", str(tmp_path / "missing.pt"), "--split-file", "x.json"]
    argv += ["--split", "random0", "--half", "A", "--seed", "0", "--settings", settings]
    argv += ["--out-model", str(tmp_path / "m.pt"), "--out-metrics", str(tmp_path / "m.json")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: this job was given a GPU (CUDA_VISIBLE_DEVICES=0 is set)")
    assert "missing.pt" not in err and "Traceback" not in err


@pytest.mark.workflow
def test_config_device_cpu_declares_a_cpu_run_through_snakemake(
    clean_env, tmp_path, fake_fashion_mnist
):
    """A job given a GPU variable fails under the default `device: auto` (no usable GPU
    here) and trains under `device: cpu`: the config reaches the job."""
    from .support import snakemake

    clean_env.setenv("CUDA_VISIBLE_DEVICES", "0")
    clean_env.setenv("TRANSFERABILITY_SHARED_PROCESS", "0")
    config = tiny_config()
    config["dataset"]["root"] = str(fake_fashion_mnist)
    target = "results/base/random0/A/seed0/metrics.json"
    if not torch.cuda.is_available():
        failed = snakemake(tmp_path / "auto", "--cores", "1", target, config=config)
        assert failed.returncode != 0
        log = (tmp_path / "auto/results/logs/train_base/random0/A/seed0.log").read_text()
        assert "this job was given a GPU (CUDA_VISIBLE_DEVICES=0 is set)" in log
    config["device"] = "cpu"
    result = snakemake(tmp_path / "cpu", "--cores", "1", target, config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "cpu" / target).read_text())["device"] == "cpu"
