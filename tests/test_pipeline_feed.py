"""Paper scale, part 2 (issue 33): the store opened read-only, a half held in memory or
staged to node-local disk, a loader with several gather threads that gives the same bytes
as one, the decisive GPU check that does nothing without a GPU, and the cluster checks
(driver against env, a GPU partition named)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from transferability import grid
from transferability.data import feed, store, store_loader
from transferability.data.cache import load_cache
from transferability.data.imagefolder import build_index
from transferability.errors import ConfigError, DataError
from transferability.training import models
from transferability.training.resume_state import ResumeState
from transferability.training.sgd import Recipe
from transferability.training.solver import train
from transferability_runtime import driver_check
from transferability_runtime.partition_check import (
    GPU_RULES,
    partition_problem,
    settings_partition_problem,
)
from transferability_runtime.smoke_images import write_images

from .support import REPO, run_script, tiny_config

pytestmark = pytest.mark.pipeline

SIDE, CROP = 256, 227


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A small ImageFolder (4 classes) and its store."""
    tmp = tmp_path_factory.mktemp("feed")
    write_images({"classes": 4, "train_per_class": 6, "val_per_class": 2, "side": 280}, tmp / "img")
    build_index(tmp / "img", SIDE, CROP, 8, tmp / "index.pt")
    store.write_store(load_cache(tmp / "index.pt"), SIDE, tmp / "imagenet.pt", workers=1)
    return tmp / "imagenet.pt"


def half_of(descriptor: dict) -> dict:
    """Classes 1 and 3: rows scattered over the store, as a real half's are."""
    train_y, test_y = descriptor["train_y"].tolist(), descriptor["test_y"].tolist()
    train = [i for i, y in enumerate(train_y) if y in (1, 3)]
    return {
        "class_indices": [1, 3],
        "train_idx": train[:-2],
        "val_idx": train[-2:],
        "test_idx": [i for i, y in enumerate(test_y) if y in (1, 3)],
    }


def parts(path: Path, **options) -> dict:
    descriptor = load_cache(path)
    relabel = torch.tensor([-1, 0, -1, 1])
    return store_loader.load_half(path, descriptor, half_of(descriptor), relabel, **options)


def every_batch(loaded: dict, seed: int = 5) -> list[torch.Tensor]:
    """An epoch's training batches (random crops, mirrors) and every evaluation batch."""
    images, _ = loaded["train"]
    images.prepare("cpu", seed=seed, flip=True)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    out = [x for _, x in images.batches(order, 3, epoch=2)]
    for part in ("val", "test"):
        loaded[part][0].prepare("cpu", seed=seed, flip=False)
        out += list(loaded[part][0].split(3))
    return out


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_store_is_mapped_read_only_and_shared(stored):
    """mode "r": a read-only shared mapping, which costs no committed memory; the private
    writable one (mode "c") counted the whole 262 GB file against overcommit."""
    pixels = store.open_pixels(stored, load_cache(stored))
    name = str(store.pixels_path(stored).resolve())
    maps = [line.split() for line in Path("/proc/self/maps").read_text().splitlines()]
    perms = {fields[1] for fields in maps if fields[-1] == name}
    assert perms == {"r--s"}, perms
    assert pixels[3].sum() > 0  # and it reads


def test_a_half_in_memory_gives_the_bytes_of_the_memory_map_and_says_what_it_needs(stored):
    descriptor = load_cache(stored)
    half = half_of(descriptor)
    mapped, held = parts(stored), parts(stored, feed={"in_memory": True})
    pixels = held["train"][0].pixels
    assert not isinstance(pixels.untyped_storage().filename, str)  # plain RAM, not a map
    assert pixels.numel() == store.half_bytes(descriptor, half)  # just the half's rows
    assert len(pixels) == len(half["train_idx"]) + len(half["val_idx"]) + len(half["test_idx"])
    assert len(pixels) < descriptor["rows"]["train"] + descriptor["rows"]["test"]
    assert same(every_batch(mapped), every_batch(held))
    for part in ("train", "val", "test"):
        assert torch.equal(mapped[part][1], held[part][1])  # labels too
    # ILSVRC-2012's 500-class half: 665,583 rows of 196,608 bytes = 130.9 GB.
    assert store.job_mem_mib(665_583 * store.row_bytes(256)) == 124_797 + store.JOB_OVERHEAD_MIB
    with pytest.raises(DataError, match=r"resources\.train\.mem_mb.*store_in_memory"):
        store.check_fits_in_memory(stored, 10**9, limit=2 * 10**9)
    store.check_fits_in_memory(stored, 10**9, limit=None)  # no limit known: go on


def test_several_gather_threads_and_batches_ahead_give_the_bytes_of_one(stored):
    one = every_batch(parts(stored, feed={"gather_threads": 1, "prefetch": 1}))
    for options in ({"gather_threads": 4, "prefetch": 4}, {"gather_threads": 3, "prefetch": 2}):
        assert same(one, every_batch(parts(stored, feed=options))), options
        assert same(one, every_batch(parts(stored, feed=options | {"in_memory": True})))


def tiny_recipe() -> Recipe:
    return Recipe(
        epochs=2, batch_size=4, lr=0.01, momentum=0.9, weight_decay=5e-4, lr_steps=(0.5,),
        lr_gamma=0.1, warmup=0.0, clip_grad_norm=5.0, augment_flip=True, precision="bf16",
    )  # fmt: skip


def trained(data: dict, tmp: Path | None = None):
    torch.manual_seed(0)
    net = models.TransferNet("alexnet227", 2, 3, [8, 8, 8, 8, 8, 16, 16])
    net = net.to(memory_format=torch.channels_last)
    resume = ResumeState(tmp / "state.pt", "k", log=lambda *_: None) if tmp else None
    outcome, _ = train(net, data, tiny_recipe(), 0, seed=1, log=lambda *_: None, resume=resume)
    numbers = (outcome.top1, outcome.val_top1, outcome.final_loss, outcome.history)
    return numbers, [t.clone() for t in net.state_dict().values()]


def test_the_feed_changes_no_trained_number_on_the_cpu(stored, tmp_path):
    """The same net, fed from the map by one thread or from RAM by three, with its state
    written in the background: the same numbers and weights to the bit."""
    numbers, weights = trained(parts(stored))
    fed = {"in_memory": True, "gather_threads": 3, "prefetch": 3}
    again, weights_again = trained(parts(stored, feed=fed), tmp_path)
    assert numbers == again
    assert all(torch.equal(a, b) for a, b in zip(weights, weights_again, strict=True))
    assert torch.load(tmp_path / "state.pt", weights_only=True)["epoch"] == 2


def test_the_resume_state_is_written_in_the_background_from_a_copy(tmp_path):
    state = ResumeState(tmp_path / "s.pt", "k")
    weights = torch.zeros(3)
    state.save_later({"epoch": 1, "w": weights})
    weights += 1  # training goes on at once: the file holds the values at save time
    assert torch.equal(state.load()["w"], torch.zeros(3))
    (tmp_path / "blocker").mkdir()
    broken = ResumeState(tmp_path / "blocker", "k")  # a directory cannot be replaced by a file
    broken.save_later({"epoch": 1})
    with pytest.raises(OSError):
        broken.wait()


def test_a_store_staged_to_local_disk_is_complete_checked_and_reused(stored, tmp_path):
    local = store.stage_store(stored, tmp_path / "local")
    assert local == tmp_path / "local" / stored.name
    assert store.pixels_path(local).read_bytes() == store.pixels_path(stored).read_bytes()
    assert same(every_batch(parts(stored)), every_batch(parts(local)))
    made = store.pixels_path(local).stat().st_mtime_ns
    time.sleep(0.01)
    assert store.stage_store(stored, tmp_path / "local") == local  # a second job: reused
    assert store.pixels_path(local).stat().st_mtime_ns == made
    with open(store.pixels_path(local), "r+b") as f:  # a copy cut short: staged again
        f.truncate(1000)
    store.stage_store(stored, tmp_path / "local")
    assert store.pixels_path(local).stat().st_size == load_cache(stored)["pixels_bytes"]
    assert not [p for p in local.parent.iterdir() if ".staging" in p.name]


def test_feed_settings_reach_the_job_only_when_the_config_sets_them():
    config = tiny_config()
    assert "feed" not in grid.train_settings(config, "base")  # existing runs' settings kept
    config["dataset"] |= {"store_in_memory": True, "gather_threads": 4}
    settings = grid.train_settings(config, "base")
    assert feed.from_settings(settings["feed"]) == feed.Feed(in_memory=True, gather_threads=4)
    with pytest.raises(ConfigError, match="dataset.gather_threads"):
        feed.from_settings({"gather_threads": 0})


def device_check(*args: str) -> subprocess.CompletedProcess:
    script = str(REPO / "benchmarks/device_check.py")
    return subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, timeout=120
    )


def test_device_check_without_a_gpu_prints_one_line_and_exits_0_quickly():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: this checks the GPU-less path")
    started = time.perf_counter()
    done = device_check()
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("no GPU:"), done.stdout
    assert time.perf_counter() - started < 30


def test_device_check_measures_every_figure_and_gives_a_verdict_tiny_on_the_cpu():
    done = device_check("--cpu", "--tiny")
    assert done.returncode == 0, done.stderr[-2000:]
    names = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("RESULT ")}
    wanted = {"full_cell_img_per_s", "frozen_n5_img_per_s", "loader_to_device_img_per_s"}
    wanted |= {"store_cold_img_per_s", "store_warm_img_per_s", "store_in_memory_img_per_s"}
    wanted |= {"loader_jpeg_to_device_img_per_s", "jpeg_fed_share"}  # the JPEG store
    assert wanted | {"gpu_busy_share", "fed_share"} <= names, names
    verdict = done.stdout.strip().splitlines()[-1]
    assert verdict == "fed" or verdict.startswith("input-bound at "), verdict
    assert "precision bf16" in done.stdout  # the merged configs: imagenet.yaml over config.yaml


def test_a_slurm_profile_without_a_gpu_partition_is_refused_naming_the_key(tmp_path):
    problem = partition_problem({"executor": "slurm", "jobs": 100})
    assert "slurm_partition" in problem and "train_base" in problem and "set-resources" in problem
    only_base = {"set-resources": {"train_base": {"slurm_partition": "gpu"}}}
    assert "train_cell" in partition_problem(only_base)
    assert "train_base" not in partition_problem(only_base).split(":")[1]
    every = {"set-resources": [f"{r}:slurm_partition=gpu" for r in GPU_RULES]}
    assert partition_problem(every) is None
    assert partition_problem({"default-resources": ["slurm_partition=gpu"]}) is None
    # What Snakemake resolved from the shipped profile (no partition), then with one given.
    from types import SimpleNamespace

    shipped = yaml.safe_load((REPO / "slurm/config.yaml").read_text())
    resolved = SimpleNamespace(
        default_resources=shipped.get("default-resources"),
        overwrite_resources=shipped.get("set-resources") or {},
    )
    assert "slurm_partition" in settings_partition_problem(resolved)
    resolved.overwrite_resources = {r: {"slurm_partition": "g"} for r in GPU_RULES}
    assert settings_partition_problem(resolved) is None


def test_the_driver_picks_the_training_env():
    smi = "| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2 |"
    assert driver_check.parse_driver(smi) == (535, 104, 5)
    assert driver_check.env_for_driver(smi).path == "envs/train-cu12.yaml"
    assert driver_check.env_for_driver("580.65.06").path == "envs/train.yaml"
    assert driver_check.env_for_driver("470.82.01") is None
    assert "use envs/train-cu12.yaml" in driver_check.advice("550.54.15")
    assert "runs here" in driver_check.advice("590.1")
    for env in driver_check.ENVS:  # each env named is a file, pinning the tested torch
        assert (REPO / env.path).is_file()
        assert "torch==2.14.1" in (REPO / env.path).read_text()


def test_the_loader_benchmark_prints_its_rate_per_thread_and_at_1_2_4_threads():
    results = run_script("loader_threads.py", "--quick", timeout=120)
    for threads in (1, 2, 4):
        assert float(results[f"loader_images_per_s_in_memory_threads{threads}"][0]) > 0
        assert float(results[f"loader_jpeg_images_per_s_threads{threads}"][0]) > 0
    assert results["loader_images_per_s_per_thread"][1] == "images/s"
    assert results["loader_jpeg_images_per_s_per_thread"][1] == "images/s"
    # A photograph's JPEG at quality 90 is several times smaller than its raw row.
    raw, jpeg = (int(results[f"store_bytes_per_image_{f}"][0]) for f in ("raw", "jpeg"))
    assert raw == 196_608 and jpeg * 4 < raw
