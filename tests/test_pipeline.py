"""Paper scale at GPU speed (issue 23): each ImageFolder image decoded once into a store,
augmented on the device; the job does what the config says on a GPU; a profile a cluster
accepts; the ILSVRC-2012 validation images sorted from the devkit."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from transferability import cpus
from transferability.data import ilsvrc_val, store, store_loader
from transferability.data.cache import load_cache
from transferability.data.imagefolder import build_index
from transferability.errors import DataError
from transferability.training import device as devices
from transferability.training import models
from transferability.training.sgd import Recipe
from transferability.training.solver import train
from transferability_runtime.smoke_images import write_images

from .support import REPO, run_script, snakemake

pytestmark = pytest.mark.pipeline

SIDE, CROP = 256, 227


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A small ImageFolder of JPEGs (4 classes, sides around 300 px) and its store."""
    tmp = tmp_path_factory.mktemp("store")
    write_images({"classes": 4, "train_per_class": 6, "val_per_class": 2, "side": 300}, tmp / "img")
    build_index(tmp / "img", SIDE, CROP, 8, tmp / "index.pt")
    store.write_store(load_cache(tmp / "index.pt"), SIDE, tmp / "imagenet.pt", workers=2)
    return tmp / "imagenet.pt"


def half_of(descriptor: dict) -> dict:
    train = list(range(len(descriptor["train_y"])))
    return {
        "class_indices": [0, 1, 2, 3],
        "train_idx": train[:20],
        "val_idx": train[20:],
        "test_idx": list(range(len(descriptor["test_y"]))),
    }


def parts(path: Path) -> dict:
    descriptor = load_cache(path)
    return store_loader.load_half(path, descriptor, half_of(descriptor), torch.arange(4))


def epoch_images(images, seed: int, epoch: int, start_step: int = 0) -> list[torch.Tensor]:
    images.prepare("cpu", seed=seed, flip=True)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(epoch))
    return [x for _, x in images.batches(order, 8, epoch, start_step=start_step)]


def test_same_seed_gives_the_same_crops_and_flips_also_when_resumed_mid_epoch(stored):
    images, _ = parts(stored)["train"]
    first, again = epoch_images(images, 7, 3), epoch_images(images, 7, 3)
    assert len(first) == 3 and all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    resumed = epoch_images(images, 7, 3, start_step=1)  # a run resumed at its second step
    assert all(torch.equal(a, b) for a, b in zip(first[1:], resumed, strict=True))
    assert not torch.equal(first[0], epoch_images(images, 8, 3)[0])  # another seed
    assert not torch.equal(first[0], epoch_images(images, 7, 4)[0])  # another epoch


def test_crops_stay_inside_the_image_and_the_mirror_is_a_true_mirror():
    side, crop, n = 12, 9, 64
    x = torch.randint(0, 256, (n, side, side, 3), dtype=torch.uint8)
    tops, lefts, flips = store_loader.epoch_draws(0, 1, n, side, crop, flip=True)
    for drawn in (tops, lefts):
        assert int(drawn.min()) >= 0 and int(drawn.max()) <= side - crop
    assert {0, side - crop} <= set(tops.tolist())  # both extremes are drawn
    assert 0 < int(flips.sum()) < n
    out = store_loader.slice_crops(x, tops, lefts, flips, crop)
    for i in range(n):
        t, left = int(tops[i]), int(lefts[i])
        window = x[i, t : t + crop, left : left + crop]
        expected = window.flip(1) if flips[i] else window
        assert torch.equal(out[i], expected)
        if flips[i]:  # column j of the mirror is column crop-1-j of the crop
            assert torch.equal(out[i, :, 0], window[:, crop - 1])
    # The GPU's gather gives the same pixels as the CPU's slices.
    assert torch.equal(store_loader.gather_crops(x, tops, lefts, flips, crop), out)
    mean, std = torch.full((1, 3, 1, 1), 100.0), torch.full((1, 3, 1, 1), 50.0)
    normalised = store_loader.crop_flip_normalise(x, tops, lefts, flips, crop, mean, std)
    assert normalised.shape == (n, 3, crop, crop)
    assert normalised.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(normalised, (out.permute(0, 3, 1, 2).float() - 100) / 50)


def test_the_stored_values_equal_a_direct_decode_and_resize(stored):
    descriptor = load_cache(stored)
    pixels = store.open_pixels(stored, descriptor)
    files = list(descriptor["train_files"]) + list(descriptor["test_files"])
    assert pixels.shape == (len(files), SIDE, SIDE, 3) and pixels.dtype == torch.uint8
    for row in (0, len(files) // 2, len(files) - 1):
        with Image.open(files[row]) as image:
            direct = image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR)
        assert np.array_equal(pixels[row].numpy(), np.asarray(direct))


def copy_store(stored: Path, tmp_path: Path) -> Path:
    for suffix in (".pt", ".pixels"):
        (tmp_path / f"imagenet{suffix}").write_bytes(stored.with_suffix(suffix).read_bytes())
    return tmp_path / "imagenet.pt"


def test_the_store_refuses_a_truncated_pixel_file(stored, tmp_path):
    path = copy_store(stored, tmp_path)
    pixels = store.pixels_path(path)
    pixels.write_bytes(pixels.read_bytes()[:-1000])
    with pytest.raises(DataError, match=r"truncated.*delete .*imagenet.pt and .*so store_images"):
        store.open_pixels(path, load_cache(path))


def test_the_store_refuses_a_changed_source_image(stored, tmp_path):
    path = copy_store(stored, tmp_path)
    descriptor = load_cache(path)
    source = Path(descriptor["train_files"][3])
    before = source.stat()
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    try:
        with pytest.raises(DataError, match=rf"{source.name}: changed .*so store_images writes"):
            store.open_pixels(path, descriptor)
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    store.open_pixels(path, descriptor)  # the same file again: accepted


def test_a_truncated_jpeg_is_refused_when_the_store_is_written(tmp_path):
    write_images({"classes": 2, "train_per_class": 2, "val_per_class": 1, "side": 64}, tmp_path)
    build_index(tmp_path, 64, 56, 2, tmp_path / "index.pt")
    index = load_cache(tmp_path / "index.pt")
    bad = Path(index["train_files"][1])
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with pytest.raises(DataError, match=rf"{bad.name}: cannot decode the image.*replace or remove"):
        store.write_store(index, 64, tmp_path / "out.pt")
    assert not (tmp_path / "out.pixels").exists() and not (tmp_path / "out.pt").exists()


def tiny_recipe(**changes) -> Recipe:
    base = dict(epochs=1, batch_size=8, lr=0.01, momentum=0.9, weight_decay=5e-4)
    base |= dict(lr_steps=(0.5,), lr_gamma=0.1, warmup=0.0, clip_grad_norm=5.0)
    return Recipe(**base | dict(augment_flip=True, precision="bf16") | changes)


def test_frozen_layers_run_without_a_graph_through_the_store(stored):
    torch.manual_seed(0)
    net = models.TransferNet("alexnet227", 4, 3, [8, 8, 8, 8, 8, 16, 16])
    net = net.to(memory_format=torch.channels_last)
    graph = {i: set() for i in range(4)}
    for i in graph:
        net.stages[i].register_forward_hook(
            lambda m, a, out, i=i: graph[i].add(net.training and out.requires_grad)
        )
    outcome, _ = train(net, parts(stored), tiny_recipe(), 3, seed=1, log=lambda *_: None)
    assert graph[0] == graph[1] == graph[2] == {False}  # frozen conv1..conv3: no graph
    assert True in graph[3]  # conv4 trains
    assert outcome.epochs_run == 1 and 0 <= outcome.top1 <= 1


def test_precision_fp32_is_honoured_on_cuda_and_cudnn_benchmarks_unless_deterministic():
    assert not devices.autocast_enabled("cuda", "fp32")
    assert devices.autocast_enabled("cuda", "bf16", convs=False)  # every step on a GPU
    assert not devices.autocast_enabled("cpu", "bf16", convs=False)  # unchanged on the CPU
    saved = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    saved += (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    try:
        cuda = torch.device("cuda")
        applied = devices.configure(cuda, "fp32", env={})
        assert applied == {"cudnn_benchmark": True, "cudnn_deterministic": False, "tf32": False}
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        applied = devices.configure(cuda, "bf16", env={devices.DETERMINISTIC_ENV: "1"})
        assert applied["cudnn_deterministic"] and not applied["cudnn_benchmark"]
        assert devices.configure(torch.device("cpu"), "fp32", env={}) == {}
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[:2]
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved[2:]


def test_workers_and_torch_threads_are_sized_from_the_jobs_cpus():
    assert cpus.plan(8, "cuda", decodes_per_epoch=True) == cpus.CpuPlan(1, 7)
    assert cpus.plan(8, "cpu", decodes_per_epoch=True) == cpus.CpuPlan(8, 8)
    assert cpus.plan(8, "cuda", decodes_per_epoch=False) == cpus.CpuPlan(8, 0)
    assert cpus.plan(1, "cuda", decodes_per_epoch=True) == cpus.CpuPlan(1, 1)


def test_profile_cores_cover_every_configs_threads():
    """`cores` in the cluster profile caps a rule's threads silently: no config may ask more."""
    cores = yaml.safe_load((REPO / "slurm/config.yaml").read_text())["cores"]
    for path in sorted((REPO / "config").glob("*.yaml")):
        resources = (yaml.safe_load(path.read_text()) or {}).get("resources", {})
        for kind, spec in resources.items():
            assert spec.get("threads", 1) <= cores, f"{path.name}: resources.{kind}.threads"


def test_profile_runtime_fits_common_partitions_and_requeues():
    """Runtimes within 24 h (common GPU partition limits); longer nets resume per epoch."""
    profile = yaml.safe_load((REPO / "slurm/config.yaml").read_text())
    assert profile["retries"] >= 1 and profile["slurm-requeue"] is True
    for name in ("imagenet.yaml", "cifar100.yaml", "smoke.yaml"):
        resources = yaml.safe_load((REPO / "config" / name).read_text())["resources"]
        assert all(spec["runtime"] <= 24 * 60 for spec in resources.values()), name


def _element(kind: int, payload: bytes) -> bytes:
    return struct.pack("<II", kind, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def _matrix(klass: int, dims: list[int], body: bytes, name: str = "") -> bytes:
    head = _element(6, struct.pack("<II", klass, 0)) + _element(5, struct.pack("<2i", *dims))
    return _element(14, head + _element(1, name.encode()) + body)


def write_meta(path: Path, synsets: list[tuple[int, str]]) -> None:
    names = b"".join(f.ljust(32, b"\0") for f in (b"ILSVRC2012_ID", b"WNID", b"children"))
    body = struct.pack("<II", 5 | (4 << 16), 32) + _element(1, names)
    for number, wnid in synsets:
        body += _matrix(6, [1, 1], _element(9, struct.pack("<d", number)))
        chars = struct.pack(f"<{len(wnid)}H", *wnid.encode())
        body += _matrix(4, [1, len(wnid)], _element(4, chars))
        body += _matrix(6, [0, 0], b"")  # an empty `children`, as the leaves have
    variable = zlib.compress(_matrix(2, [len(synsets), 1], body, "synsets"))
    header = b"MATLAB 5.0 MAT-file".ljust(116) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    path.write_bytes(header + struct.pack("<II", 15, len(variable)) + variable)


def test_prepare_ilsvrc_val_sorts_the_devkits_ground_truth_into_class_folders(tmp_path):
    devkit, flat = tmp_path / "ILSVRC2012_devkit_t12", tmp_path / "val_flat"
    (devkit / "data").mkdir(parents=True)
    flat.mkdir()
    # Devkit IDs are not sorted-wnid order: ID 1 is n02119789 (kit fox), as in the devkit.
    write_meta(devkit / ilsvrc_val.META, [(1, "n02119789"), (2, "n02100735"), (3, "n01440764")])
    truth = [3, 1, 1, 2, 3]
    (devkit / ilsvrc_val.GROUND_TRUTH).write_text("".join(f"{i}\n" for i in truth))
    for i in range(1, len(truth) + 1):
        Image.new("RGB", (8, 8)).save(flat / ilsvrc_val.VAL_NAME.format(i))
    assert ilsvrc_val.id_to_wnid(devkit / ilsvrc_val.META)[1] == "n02119789"
    out = tmp_path / "val"
    args = ["--devkit", str(devkit), "--val-dir", str(flat), "--out", str(out)]
    from transferability.cli import main

    assert main(["prepare-ilsvrc-val", *args]) == 0
    found = {p.parent.name: sorted(q.name for q in p.parent.iterdir()) for p in out.glob("*/*")}
    assert found == {
        "n01440764": ["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000005.JPEG"],
        "n02119789": ["ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00000003.JPEG"],
        "n02100735": ["ILSVRC2012_val_00000004.JPEG"],
    }
    assert main(["prepare-ilsvrc-val", *args]) == 1  # refuses to overwrite
    (flat / ilsvrc_val.VAL_NAME.format(4)).unlink()
    with pytest.raises(DataError, match=r"ILSVRC2012_val_00000004.JPEG: missing"):
        ilsvrc_val.sort_val(devkit, flat, tmp_path / "other")


def test_the_input_benchmark_prints_its_results_quickly():
    results = run_script("input_pipeline.py", "--quick")
    assert {"input_images_per_s_per_core", "input_images_per_s_per_core_pil"} <= set(results)
    assert float(results["input_speedup_per_core"][0]) > 1


@pytest.mark.workflow
def test_the_smoke_config_trains_a_base_net_through_the_store(tmp_path):
    target = "results/smoke/base/random0/A/seed0/metrics.json"
    config = REPO / "config/smoke.yaml"
    result = snakemake(tmp_path, target, "--cores", "2", "--configfile", str(config), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule store_images" in result.stdout + result.stderr
    data = tmp_path / "results/smoke/data"
    assert load_cache(data / "imagefolder.pt")["kind"] == store.KIND
    assert (data / "imagefolder.pixels").stat().st_size == 400 * SIDE * SIDE * 3  # 10 x (30 + 10)
    metrics = json.loads((tmp_path / target).read_text())
    assert metrics["epochs"] == 2 and metrics["train_images"] == 120
