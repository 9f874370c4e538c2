"""The compressed form of the decode-once store (`dataset.store_format: jpeg`).

Each image is decoded and resized once, exactly as for the raw store (store.py), then
encoded as a JPEG at `dataset.store_quality`; the JPEGs lie back to back in one file
(`<name>.jpegs`) and the descriptor holds where each one starts. A 256 x 256 image takes
tens of KB instead of the raw row's 196,608 B (docs/full-scale.md: measured sizes), so a
half of ILSVRC-2012 fits in a node's RAM where its raw rows do not.

A training job decodes its batches where it trains: on a GPU with nvJPEG
(`torchvision.io.decode_jpeg(device="cuda")`), on the CPU with libjpeg-turbo in its gather
threads. A GPU decode that fails (an nvJPEG the driver lacks) falls back to the CPU for the
rest of the job, saying so once. The two decoders round a few pixel values differently
(JPEG's inverse DCT is not bit-exact between them): a net trained on one device is not bit
for bit the net trained on the other, as with every GPU kernel.

Torch-free at import, like the rest of data/.
"""

from __future__ import annotations

import io
import os
import sys
import zlib
from pathlib import Path

from ..errors import DataError

SUFFIX = ".jpegs"
FORMAT = "jpeg"
QUALITY_DEFAULT = 90  # dataset.store_quality when the config leaves it out


def encode(image, quality: int) -> bytes:
    """One uint8 (side, side, 3) image as JPEG bytes (PIL, 4:2:0 as most JPEGs are)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def record_crc(path, offsets) -> int:
    """crc32 of the first and the last JPEG: a cheap check that the file is the one written."""
    offsets = [int(o) for o in (offsets[0], offsets[1], offsets[-2], offsets[-1])]
    with open(path, "rb") as f:
        first = f.read(offsets[1] - offsets[0])
        f.seek(offsets[2])
        last = f.read(offsets[3] - offsets[2])
    return zlib.crc32(last, zlib.crc32(first))


class EncodedRows:
    """A store's JPEGs (all of them, memory-mapped, or a half's held in RAM) as the loader
    reads rows: `shape` as the raw rows' (rows, side, side, 3), `encoded(rows)` the bytes
    of those rows as 1-D uint8 tensors (views, no copy)."""

    def __init__(self, data, offsets, side: int):
        import numpy as np

        self.data = data  # 1-D uint8 tensor
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.side = side
        self.shape = (len(self.offsets) - 1, side, side, 3)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return int(self.offsets[-1] - self.offsets[0])

    def encoded(self, rows) -> list:
        starts, ends = self.offsets[:-1], self.offsets[1:]
        return [self.data[starts[r] : ends[r]] for r in rows.tolist()]


def read_rows(path, offsets, rows, side: int) -> EncodedRows:
    """The JPEGs of store rows `rows` (ascending) read into RAM, each run of consecutive
    rows in one sequential read: a half read once, as store.read_rows does for raw rows."""
    import numpy as np
    import torch

    offsets = np.asarray(offsets, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    sizes = offsets[rows + 1] - offsets[rows]
    local = np.concatenate([[0], np.cumsum(sizes)])
    data = torch.empty(int(local[-1]), dtype=torch.uint8)
    view = memoryview(data.numpy()).cast("B")
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    with open(path, "rb", buffering=0) as f:
        for run in np.split(np.arange(len(rows)), breaks):
            if not len(run):
                continue
            lo, hi = int(local[run[0]]), int(local[run[-1] + 1])
            start, done = int(offsets[rows[run[0]]]), 0
            while done < hi - lo:
                got = os.preadv(f.fileno(), [view[lo + done : hi]], start + done)
                if got == 0:
                    raise DataError(f"{path}: ends before row {rows[run[-1]]}; remake it")
                done += got
    return EncodedRows(data, local, side)


class Decoder:
    """Decodes batches of JPEGs into uint8 (n, side, side, 3) on a device; a CUDA decode
    that fails once makes this decoder use the CPU from then on (one line on stderr)."""

    def __init__(self, side: int):
        self.side, self.cpu_only = side, False

    def __call__(self, encoded: list, device) -> object:
        import torch
        from torchvision.io import ImageReadMode, decode_jpeg

        device = torch.device(device)
        if device.type == "cuda" and not self.cpu_only:
            try:
                images = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
                return torch.stack(images).permute(0, 2, 3, 1)
            except RuntimeError as e:  # no nvJPEG for this GPU or driver
                self.cpu_only = True
                why = (str(e).splitlines() or [type(e).__name__])[0]
                print(
                    f"JPEG decoding on {device} failed ({why}); decoding on the CPU from now on",
                    file=sys.stderr,
                )
        images = decode_jpeg(encoded, mode=ImageReadMode.RGB, device="cpu")
        out = torch.empty((len(images), self.side, self.side, 3), dtype=torch.uint8)
        for i, image in enumerate(images):
            out[i] = image.permute(1, 2, 0)
        return out


def data_path(descriptor_path) -> Path:
    path = Path(descriptor_path)
    return path.with_name(path.stem + SUFFIX)
