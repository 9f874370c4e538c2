"""Bad input that used to pass silently or fail with a traceback (issue 31, item 7): images
are read by value, a ground truth of the wrong length is refused, an unusable resume state
is set aside, and configs, HOME and a step run by hand are answered with one line naming
the problem and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transferability.errors import DataError

pytestmark = pytest.mark.badinput

# --- images: by value, whatever their bit depth ------------------------------------------


def decode_store(path: Path) -> np.ndarray:
    """The store's decode (rule store_images), as (side, side, 3)."""
    from transferability.data.store import decode_resized

    return decode_resized(str(path), 8)


def decode_stream(path: Path) -> np.ndarray:
    """The streamed decode (dataset.store: false), centre crop, as (side, side, 3)."""
    from transferability.data.imagefolder import _load

    return _load(str(path), 8, 8, None).permute(1, 2, 0).numpy()


def grey_image(tmp_path: Path, mode: str, value: float) -> Path:
    """A 16 x 16 image of one grey value, written in a format that keeps `mode`."""
    from PIL import Image

    dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
    image = Image.fromarray(np.full((16, 16), value, dtype=dtype))
    assert image.mode == mode
    path = tmp_path / f"grey.{'png' if mode == 'I;16' else 'tiff'}"
    image.save(path)
    return path


@pytest.mark.parametrize("decode", [decode_store, decode_stream], ids=["store", "stream"])
@pytest.mark.parametrize("mode, mid_grey", [("I;16", 32768), ("I", 32768), ("F", 0.5)])
def test_a_mid_grey_image_of_more_than_8_bits_is_read_as_mid_grey(tmp_path, decode, mode, mid_grey):
    """convert("RGB") clipped a 16-bit grey of 32768 to 255: the image was stored white."""
    pixels = decode(grey_image(tmp_path, mode, mid_grey))
    assert pixels.shape == (8, 8, 3)
    assert set(np.unique(pixels)) <= {127, 128}


def test_an_8_bit_image_reads_as_before(tmp_path):
    """The 16-bit path leaves ordinary images alone: the same bytes as convert("RGB")."""
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path / "rgb.png"
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BILINEAR))
    assert np.array_equal(decode_store(path), expected)


def test_float_pixels_with_no_range_to_scale_by_are_refused_naming_the_file(tmp_path):
    path = grey_image(tmp_path, "F", 200.0)
    with pytest.raises(DataError) as refused:
        decode_store(path)
    assert str(refused.value).startswith(f"{path}: F pixels from 200 to 200, outside 0..1")
    assert "save it as 8-bit" in str(refused.value)
