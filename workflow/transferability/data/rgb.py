"""A decoded image as 8-bit RGB, by value: what both image readers (imagefolder.py, store.py)
turn every file into.

PIL's `convert("RGB")` clips the pixels of its integer and float modes to 0..255 instead
of scaling them: a 16-bit grey PNG (mode I;16) of mid-grey 32768 comes out white. Those
modes are scaled by their range first; a value outside it is refused by name, since no
scale would be right for it. Torch-free, like the rest of data/.
"""

from __future__ import annotations

from ..errors import DataError

# The full scale of each mode convert("RGB") would clip. "I" (32-bit integers) is how
# older Pillow opened 16-bit PNGs, so it is read as 16 bits; "F" (32-bit float) as 0..1,
# the range float images are written in.
FULL_SCALE = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535, "F": 1.0}


def to_rgb(image, path):
    """`image` (a PIL image read from `path`) as an 8-bit RGB PIL image."""
    full = FULL_SCALE.get(image.mode)
    if full is None:
        return image.convert("RGB")
    return _grey_to_rgb(image, full, path)


def _grey_to_rgb(image, full: float, path):
    import numpy as np
    from PIL import Image

    values = np.asarray(image, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if not (low >= 0 and high <= full):  # also refuses NaN, which fails every comparison
        raise DataError(
            f"{path}: {image.mode} pixels from {low:g} to {high:g}, outside 0..{full:g}, so "
            "there is no bit depth to scale them to 0..255 by; save it as 8-bit (or 16-bit "
            "grey) PNG or JPEG, or remove it"
        )
    grey = np.rint(values * (255 / full)).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")
