"""The ImageNet input pipeline decodes and resamples no more than the crop needs, and gives
the images the plain way (decode, resize the whole image, crop) gives; its benchmark runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from transferability.data import imagefolder

from .support import run_script


def photo(path, width: int, height: int):
    rng = np.random.default_rng(width)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def plain(path, resize: int, crop: int) -> torch.Tensor:
    """Decode at full size, resize the whole image, centre crop: what _load used to do."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        scale = resize / min(w, h)
        size = (max(crop, round(w * scale)), max(crop, round(h * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    array = np.asarray(image.crop((left, top, left + crop, top + crop)), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


@pytest.mark.parametrize(("width", "height"), [(500, 375), (375, 500), (1100, 800), (300, 227)])
def test_the_crop_matches_decoding_and_resizing_the_whole_image(tmp_path, width, height):
    path = photo(tmp_path / "x.JPEG", width, height)
    fast, reference = imagefolder._load(str(path), 256, 227, None), plain(path, 256, 227)
    assert fast.shape == reference.shape == (3, 227, 227) and fast.dtype == torch.uint8
    # Same geometry; only resampling differs (DCT-scaled decoding for the big image).
    assert (fast.float() - reference.float()).abs().mean() < 3


def test_big_jpegs_are_decoded_at_reduced_scale(tmp_path):
    path = photo(tmp_path / "big.JPEG", 1100, 800)
    with Image.open(path) as image:
        image.draft("RGB", (352, 256))
        assert image.size == (550, 400)  # half scale: still at least the resized size


def test_the_imagefolder_benchmark_prints_results():
    results = run_script("imagefolder_pipeline.py", "--images", "16", "--repeats", "1")
    assert set(results) == {
        "imagefolder_ours_images_per_s_per_core",
        "imagefolder_torchvision_images_per_s_per_core",
        "imagefolder_speedup",
    }
    assert results["imagefolder_speedup"][1] == "x" and float(results["imagefolder_speedup"][0]) > 0
