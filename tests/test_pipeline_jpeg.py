"""The compressed store (dataset.store_format: jpeg, store_jpeg.py): several times smaller
than raw rows, decoded per batch on the CPU here (on a GPU with nvJPEG, falling back to
the CPU when that fails, as it does on this GPU-less machine), read alike from the map,
from RAM, by many threads and from a staged copy."""

from __future__ import annotations

import os

import pytest
import torch

from transferability import grid
from transferability.data import feed, store, store_jpeg
from transferability.data.cache import load_cache
from transferability.errors import ConfigError
from transferability_runtime import plan

from .support import tiny_config
from .test_pipeline_feed import SIDE, every_batch, half_of, parts, same, trained

pytestmark = pytest.mark.pipeline

# q = 90 (4:2:0) on the synthetic smoke images, per-pixel error of the decoded store
# against the raw one in uint8 levels: measured 4.38 on average, 4.50 on the worst image
# (a photograph, matplotlib's grace_hopper.jpg: 2.57). JPEG is lossy; this bounds how lossy.
MEAN_ERROR, WORST_IMAGE_ERROR = 5.0, 6.0


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One ImageFolder stored twice: raw rows and JPEGs (the feed tests' images)."""
    from transferability.data.imagefolder import build_index
    from transferability_runtime.smoke_images import write_images

    tmp = tmp_path_factory.mktemp("jpeg")
    write_images({"classes": 4, "train_per_class": 6, "val_per_class": 2, "side": 280}, tmp / "img")
    build_index(tmp / "img", SIDE, 227, 8, tmp / "index.pt")
    index = load_cache(tmp / "index.pt")
    store.write_store(index, SIDE, tmp / "raw.pt", workers=1)
    store.write_store(index, SIDE, tmp / "jpeg.pt", workers=2, form="jpeg", quality=90)
    return tmp / "raw.pt", tmp / "jpeg.pt"


def decoded_rows(path) -> torch.Tensor:
    rows = store.open_pixels(path, load_cache(path))
    return store_jpeg.Decoder(SIDE)(rows.encoded(torch.arange(len(rows))), "cpu")


def test_a_jpeg_store_decodes_on_the_cpu_to_the_raw_pixels_within_its_tolerance(both):
    raw_path, jpeg_path = both
    raw = store.open_pixels(raw_path, load_cache(raw_path))
    jpeg = decoded_rows(jpeg_path)
    assert jpeg.shape == raw.shape and jpeg.dtype == torch.uint8
    error = (jpeg.float() - raw.float()).abs()
    assert error.mean() < MEAN_ERROR
    assert error.mean(dim=(1, 2, 3)).max() < WORST_IMAGE_ERROR
    assert not torch.equal(jpeg, raw)  # lossy, really
    descriptor = load_cache(jpeg_path)
    assert store_jpeg.data_path(jpeg_path).stat().st_size == descriptor["pixels_bytes"]
    assert descriptor["pixels_bytes"] * 4 < load_cache(raw_path)["pixels_bytes"]


def test_a_jpeg_store_gives_the_same_batches_from_the_map_from_ram_by_threads_and_staged(
    both, tmp_path
):
    _, path = both
    one = every_batch(parts(path))
    descriptor = load_cache(path)
    held = parts(path, feed={"in_memory": True})
    assert held["train"][0].pixels.nbytes == store.half_bytes(descriptor, half_of(descriptor))
    assert same(one, every_batch(held))
    threads = {"gather_threads": 3, "prefetch": 3}
    assert same(one, every_batch(parts(path, feed=threads | {"in_memory": True})))
    staged = parts(path, feed={"stage_to": str(tmp_path / "node")})
    assert same(one, every_batch(staged))
    copy = tmp_path / "node" / store_jpeg.data_path(path).name
    assert copy.read_bytes() == store_jpeg.data_path(path).read_bytes()


def test_a_net_trains_on_a_jpeg_store_to_the_same_bits_twice(both):
    _, path = both
    numbers, weights = trained(parts(path))
    again, weights_again = trained(parts(path, feed={"gather_threads": 2}))
    assert numbers == again
    assert all(torch.equal(a, b) for a, b in zip(weights, weights_again, strict=True))


def test_a_failed_gpu_decode_falls_back_to_the_cpu_once_and_says_so(both, capsys):
    """No GPU here, so nvJPEG fails as it would on a driver without it: the decoder says so
    once and gives the CPU's pixels."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: this checks the fallback")
    _, path = both
    rows = store.open_pixels(path, load_cache(path))
    encoded = rows.encoded(torch.arange(4))
    decoder = store_jpeg.Decoder(SIDE)
    out = decoder(encoded, "cuda")
    assert decoder.cpu_only and torch.equal(out, store_jpeg.Decoder(SIDE)(encoded, "cpu"))
    decoder(encoded, "cuda")
    err = capsys.readouterr().err
    assert err.count("decoding on the CPU from now on") == 1, err


def test_the_config_chooses_the_form_and_it_is_part_of_the_stores_key():
    config = tiny_config()
    config["dataset"] |= {"name": "imagefolder", "root": "/data", "resize": 256}
    raw = grid.store_settings(config)
    assert raw == {"resize": 256}  # absent: the settings of existing stores stay the same
    jpeg_config = {**config, "dataset": config["dataset"] | {"store_format": "jpeg"}}
    assert grid.store_settings(jpeg_config) == {"resize": 256, "format": "jpeg", "quality": 90}
    assert plan.output_paths(jpeg_config, "r")["pixels"] == "r/data/imagefolder.jpegs"
    assert plan.output_paths(config, "r")["pixels"] == "r/data/imagefolder.pixels"

    def key(c):
        return plan.Plan(c, plan.output_paths(c, "r"), lambda s: s, "data").cache()

    assert key(config) != key(jpeg_config)


def test_a_stage_folder_naming_an_unset_variable_is_refused_naming_the_key(monkeypatch):
    monkeypatch.setenv("NODE_SCRATCH", "/scratch/local")
    staged = feed.from_settings({"stage_to": "$NODE_SCRATCH/store"})
    assert staged.stage_dir() == "/scratch/local/store"
    monkeypatch.delenv("NODE_SCRATCH")
    with pytest.raises(ConfigError, match=r"dataset\.stage_to.*\$TMPDIR"):
        staged.stage_dir()
    assert "NODE_SCRATCH" not in os.environ
