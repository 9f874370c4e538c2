"""The decode-once form of an ImageFolder dataset (rule store_images): every image decoded
once, resized to `side` x `side` (the authors' 256 x 256: Caffe's `convert_imageset
--resize_height 256 --resize_width 256`) and written as uint8 HWC rows of one raw file that
training jobs memory-map. Train images come first, then the test (ILSVRC-2012 val) images,
in the index's order.

Beside the pixels, a small descriptor (the training jobs' `--cache`) holds the index (files,
labels, classes, per-channel statistics), where the pixels are, and the size and mtime of
every source image when it was decoded: a store whose pixel file is truncated or changed,
or whose source images changed since, is refused with the fix (check_store).

Torch-free at import, like the rest of data/.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

from ..atomic import torch_save, write_atomic
from ..errors import DataError

KIND = "stored"
PIXELS_SUFFIX = ".pixels"
CHANNELS = 3
# Source images whose size and mtime a job checks at start: all of a small dataset, an
# evenly spaced sample of ILSVRC-2012 (a stat of 1.3 M files on a shared file system takes
# minutes; a changed copy of the data changes far more than 1 file in 2,000).
VERIFY_FILES = 2048
CHUNK = 256  # images per task of a writer process
SIDE_DEFAULT = 256  # the authors' stored size (dataset.resize)


def pixels_path(descriptor_path) -> Path:
    """Where the pixels of a descriptor live: beside it, `<name>.pixels`."""
    path = Path(descriptor_path)
    return path.with_name(path.stem + PIXELS_SUFFIX)


def decode_resized(path: str, side: int):
    """One image as uint8 (side, side, 3): decoded in full and resized with PIL's bilinear
    filter (antialiased when shrinking), the aspect ratio squashed as the authors did."""
    import numpy as np
    from PIL import Image

    from .rgb import to_rgb

    try:
        with Image.open(path) as image:
            image = to_rgb(image, path).resize((side, side), Image.Resampling.BILINEAR)
    except OSError as e:  # truncated or not an image
        raise DataError(
            f"{path}: cannot decode the image ({e}); replace or remove it, then rerun "
            "(a removed image needs the index remade: delete the data cache)"
        ) from e
    return np.asarray(image, dtype=np.uint8)


def _stat(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _fill(pixels: str, total: int, start: int, files: list[str], side: int) -> list:
    """Decode `files` into rows start.. of the pixel file; their (size, mtime) before."""
    import numpy as np

    out = np.memmap(pixels, dtype=np.uint8, mode="r+", shape=(total, side, side, CHANNELS))
    stats = []
    for row, name in enumerate(files, start):
        stats.append(_stat(name))
        out[row] = decode_resized(name, side)
    out.flush()
    del out
    return stats


def _row_crc(pixels, side: int, total: int) -> int:
    """crc32 of the first and last row: a cheap check that the file is the one written."""
    row = side * side * CHANNELS
    with open(pixels, "rb") as f:
        first = f.read(row)
        f.seek((total - 1) * row)
        last = f.read(row)
    return zlib.crc32(last, zlib.crc32(first))


def write_store(index: dict, side: int, out, workers: int = 1) -> dict:
    """Decode every image of `index` (imagefolder.build_index) once into `<out>.pixels` and
    write the descriptor `out`; both atomically. Returns the descriptor."""
    import numpy as np
    import torch

    files = list(index["train_files"]) + list(index["test_files"])
    if not files:
        raise DataError(f"{out}: the index lists no images")
    pixels = pixels_path(out)
    stats: list[tuple[int, int]] = []

    def write(tmp: Path) -> None:
        np.memmap(tmp, dtype=np.uint8, mode="w+", shape=(len(files), side, side, CHANNELS)).flush()
        n = len(files)
        chunks = [(str(tmp), n, i, files[i : i + CHUNK], side) for i in range(0, n, CHUNK)]
        if workers > 1 and len(chunks) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # fork: the children inherit the imports; each writes its own rows of the file.
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                jobs = [pool.submit(_fill, *chunk) for chunk in chunks]
                for job in jobs:
                    stats.extend(job.result())
        else:
            for chunk in chunks:
                stats.extend(_fill(*chunk))

    write_atomic(pixels, write)
    n_train = len(index["train_files"])
    table = torch.tensor(stats, dtype=torch.int64)
    descriptor = {k: v for k, v in index.items() if k != "kind"} | {
        "kind": KIND,
        "side": side,
        "pixels": pixels.name,
        "rows": {"train": n_train, "test": len(files) - n_train},
        "pixels_bytes": pixels.stat().st_size,
        "pixels_crc": _row_crc(pixels, side, len(files)),
        "train_stat": table[:n_train],
        "test_stat": table[n_train:],
        "sources": sources_fingerprint(files, stats),
    }
    torch_save(descriptor, out)
    return descriptor


def sources_fingerprint(files, stats) -> str:
    """One hash of every source image's path, size and mtime (recorded in the descriptor)."""
    digest = hashlib.sha256()
    for name, (size, mtime) in zip(files, stats, strict=True):
        digest.update(f"{name}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()


def _remake(descriptor_path) -> str:
    return (
        f"delete {descriptor_path} and {pixels_path(descriptor_path)} so store_images "
        "writes them again"
    )


def check_store(descriptor_path, descriptor: dict, verify_files: int = VERIFY_FILES) -> Path:
    """The pixel file of a descriptor, after checking that it is complete and unchanged and
    that the source images it was decoded from are unchanged; else DataError with the fix."""
    pixels = Path(descriptor_path).with_name(descriptor["pixels"])
    if not pixels.is_file():
        raise DataError(f"{pixels}: missing; {_remake(descriptor_path)}")
    size, expected = pixels.stat().st_size, descriptor["pixels_bytes"]
    if size != expected:
        raise DataError(
            f"{pixels}: {size} bytes, {expected} expected (truncated or from another run); "
            + _remake(descriptor_path)
        )
    total = descriptor["rows"]["train"] + descriptor["rows"]["test"]
    if _row_crc(pixels, descriptor["side"], total) != descriptor["pixels_crc"]:
        raise DataError(f"{pixels}: changed since it was written; {_remake(descriptor_path)}")
    files = list(descriptor["train_files"]) + list(descriptor["test_files"])
    stats = descriptor["train_stat"].tolist() + descriptor["test_stat"].tolist()
    step = max(1, len(files) // verify_files)
    for i in range(0, len(files), step):
        try:
            now = list(_stat(files[i]))
        except OSError:
            now = None
        if now != stats[i]:
            what = "is gone" if now is None else "changed (size or modification time)"
            raise DataError(
                f"{files[i]}: {what} since {pixels} was decoded from it; "
                + _remake(descriptor_path)
            )
    return pixels


def open_pixels(descriptor_path, descriptor: dict, verify_files: int = VERIFY_FILES):
    """The checked store as a uint8 tensor (images, side, side, 3) backed by a private
    memory map: pages are read from disk (or the page cache) only as batches touch them."""
    import numpy as np
    import torch

    pixels = check_store(descriptor_path, descriptor, verify_files)
    side = descriptor["side"]
    total = descriptor["rows"]["train"] + descriptor["rows"]["test"]
    # mode "c" (copy-on-write): a writable array for torch, and the file is never written.
    array = np.memmap(pixels, dtype=np.uint8, mode="c", shape=(total, side, side, CHANNELS))
    return torch.from_numpy(array)
