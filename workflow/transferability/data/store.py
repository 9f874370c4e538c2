"""The decode-once form of an ImageFolder dataset (rule store_images): every image decoded
once, resized to `side` x `side` (the authors' 256 x 256: Caffe's `convert_imageset
--resize_height 256 --resize_width 256`) and written as uint8 HWC rows of one raw file that
training jobs memory-map. Train images come first, then the test (ILSVRC-2012 val) images,
in the index's order.

`dataset.store_format: jpeg` keeps each resized image as a JPEG instead (store_jpeg.py):
several times smaller, decoded per batch by the training job.

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
from . import store_jpeg

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


def _encode(files: list[str], side: int, quality: int) -> tuple[list[bytes], list]:
    """`files` decoded and resized as for the raw store, each encoded as a JPEG
    (store_jpeg.encode); with each file's (size, mtime) before it was read."""
    stats, encoded = [], []
    for name in files:
        stats.append(_stat(name))
        encoded.append(store_jpeg.encode(decode_resized(name, side), quality))
    return encoded, stats


def _row_crc(pixels, side: int, total: int) -> int:
    """crc32 of the first and last row: a cheap check that the file is the one written."""
    row = side * side * CHANNELS
    with open(pixels, "rb") as f:
        first = f.read(row)
        f.seek((total - 1) * row)
        last = f.read(row)
    return zlib.crc32(last, zlib.crc32(first))


def _in_chunks(work, chunks: list[tuple], workers: int):
    """work(*chunk) of each chunk, in order: in `workers` forked processes (they inherit
    the imports) or, with one worker, here."""
    if workers > 1 and len(chunks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            yield from pool.map(work, *zip(*chunks, strict=True))
    else:
        for chunk in chunks:
            yield work(*chunk)


def write_store(
    index: dict, side: int, out, workers: int = 1, form: str = "raw", quality: int | None = None
) -> dict:
    """Decode every image of `index` (imagefolder.build_index) once into `<out>.pixels`
    (form "raw") or `<out>.jpegs` (form "jpeg", at `quality`) and write the descriptor
    `out`; both atomically. Returns the descriptor."""
    import numpy as np
    import torch

    files = list(index["train_files"]) + list(index["test_files"])
    if not files:
        raise DataError(f"{out}: the index lists no images")
    n = len(files)
    quality = quality or store_jpeg.QUALITY_DEFAULT
    stats: list[tuple[int, int]] = []
    layout: dict = {}

    def write_raw(tmp: Path) -> None:
        np.memmap(tmp, dtype=np.uint8, mode="w+", shape=(n, side, side, CHANNELS)).flush()
        chunks = [(str(tmp), n, i, files[i : i + CHUNK], side) for i in range(0, n, CHUNK)]
        for chunk_stats in _in_chunks(_fill, chunks, workers):  # each fills its own rows
            stats.extend(chunk_stats)

    def write_jpegs(tmp: Path) -> None:
        offsets = [0]
        chunks = [(files[i : i + CHUNK], side, quality) for i in range(0, n, CHUNK)]
        with open(tmp, "wb") as f:
            for encoded, chunk_stats in _in_chunks(_encode, chunks, workers):
                for blob in encoded:
                    f.write(blob)
                    offsets.append(offsets[-1] + len(blob))
                stats.extend(chunk_stats)
        layout.update(format=store_jpeg.FORMAT, quality=quality, offsets=torch.tensor(offsets))

    if form == store_jpeg.FORMAT:
        pixels = store_jpeg.data_path(out)
        write_atomic(pixels, write_jpegs)
    elif form == "raw":
        pixels = pixels_path(out)
        write_atomic(pixels, write_raw)
    else:
        raise DataError(f"dataset.store_format: {form!r}; use raw or jpeg")
    n_train = len(index["train_files"])
    table = torch.tensor(stats, dtype=torch.int64)
    descriptor = {k: v for k, v in index.items() if k != "kind"} | {
        "kind": KIND,
        "side": side,
        "pixels": pixels.name,
        "rows": {"train": n_train, "test": n - n_train},
        "pixels_bytes": pixels.stat().st_size,
        "train_stat": table[:n_train],
        "test_stat": table[n_train:],
        "sources": sources_fingerprint(files, stats),
        **layout,
    }
    descriptor["pixels_crc"] = data_crc(pixels, descriptor)
    torch_save(descriptor, out)
    return descriptor


def is_jpeg(descriptor: dict) -> bool:
    return descriptor.get("format") == store_jpeg.FORMAT


def data_crc(path, descriptor: dict) -> int:
    """The cheap check of a store's data file: crc32 of its first and last image."""
    if is_jpeg(descriptor):
        return store_jpeg.record_crc(path, descriptor["offsets"])
    total = descriptor["rows"]["train"] + descriptor["rows"]["test"]
    return _row_crc(path, descriptor["side"], total)


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
    if data_crc(pixels, descriptor) != descriptor["pixels_crc"]:
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
    """The checked store as a read-only uint8 tensor (images, side, side, 3) backed by a
    shared memory map: pages are read from disk (or the page cache) only as batches touch
    them. Nothing may write into it (a write faults): copy rows out first, as the loader's
    gather does."""
    import numpy as np

    pixels = check_store(descriptor_path, descriptor, verify_files)
    side = descriptor["side"]
    total = descriptor["rows"]["train"] + descriptor["rows"]["test"]
    if is_jpeg(descriptor):  # the JPEGs, decoded per batch (store_jpeg.py)
        data = np.memmap(pixels, dtype=np.uint8, mode="r", shape=(descriptor["pixels_bytes"],))
        return store_jpeg.EncodedRows(read_only_tensor(data), descriptor["offsets"], side)
    # mode "r": a shared, read-only mapping. A private writable one (mode "c") counts the
    # whole file (262 GB for ILSVRC-2012) as committed memory, and a node with strict
    # overcommit refuses to open it (ENOMEM).
    array = np.memmap(pixels, dtype=np.uint8, mode="r", shape=(total, side, side, CHANNELS))
    return read_only_tensor(array)


def read_only_tensor(array):
    """torch.from_numpy of a read-only array, without torch's warning that it is not
    writable: every reader here only copies rows out of it."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


# ------------------------------------------------------------------ a half in memory


def row_bytes(side: int) -> int:
    return side * side * CHANNELS


def half_rows(descriptor: dict, half: dict):
    """The store rows a half reads (its train, val and test images), ascending and once
    each: the order that reads them sequentially."""
    import numpy as np

    train = np.asarray(list(half["train_idx"]) + list(half["val_idx"]), dtype=np.int64)
    test = np.asarray(half["test_idx"], dtype=np.int64) + descriptor["rows"]["train"]
    return np.unique(np.concatenate([train, test]))


def half_bytes(descriptor: dict, half: dict) -> int:
    """Bytes of RAM a half held in memory takes: its rows times a row's bytes
    (ILSVRC-2012, a 500-class half: 665,583 rows x 196,608 B = 130.9 GB), or its JPEGs'."""
    rows = half_rows(descriptor, half)
    if is_jpeg(descriptor):
        offsets = descriptor["offsets"].numpy()
        return int((offsets[rows + 1] - offsets[rows]).sum())
    return len(rows) * row_bytes(descriptor["side"])


# What a training job needs beside the half's rows, in MiB: the torch/CUDA process and
# its libraries (~3 GiB), batches in flight, the net, its momentum and best copy, and the
# resume snapshot (~3 x 241 MB for alexnet227), with room to spare. An estimate.
JOB_OVERHEAD_MIB = 8192


def job_mem_mib(in_memory_bytes: int, overhead_mib: int = JOB_OVERHEAD_MIB) -> int:
    """The memory request (resources.train.mem_mb, which SLURM takes as MiB) of a job
    holding `in_memory_bytes` of store rows in RAM (half_bytes)."""
    return -(-in_memory_bytes // (1 << 20)) + overhead_mib


def memory_limit() -> int | None:
    """This process's memory limit in bytes (its cgroup's, as SLURM sets it), or None."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # cgroup v1 writes a huge number for none
            return int(text)
        return None
    return None


def check_fits_in_memory(descriptor_path, needed: int, limit: int | None) -> None:
    """Refuse, before reading anything, a half that cannot fit in the job's memory."""
    if limit is None or needed + JOB_OVERHEAD_MIB * (1 << 20) <= limit:
        return
    raise DataError(
        f"{descriptor_path}: dataset.store_in_memory holds this half's rows in RAM, "
        f"{needed / 1e9:.1f} GB, but the job may use {limit / 1e9:.1f} GB; set "
        f"resources.train.mem_mb to at least {job_mem_mib(needed)} "
        "(docs/full-scale.md, what a job needs), or dataset.store_in_memory: false"
    )


# Most bytes per read call: large enough to stream at the disk's rate, small enough that
# a slow file system shows progress between calls.
READ_CHUNK = 64 << 20


def read_rows(pixels, rows, side: int, out) -> None:
    """Store rows `rows` (ascending) of the file `pixels` into `out` (a writable uint8
    numpy array of len(rows) rows), reading each run of consecutive rows in large
    sequential reads: a half is read once, not page-faulted in random 192 KB pieces."""
    import numpy as np

    size = row_bytes(side)
    flat = out.reshape(len(rows), size)
    rows = np.asarray(rows, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(rows)]])
    per_call = max(1, READ_CHUNK // size)
    with open(pixels, "rb", buffering=0) as f:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            for lo in range(start, end, per_call):
                hi = min(end, lo + per_call)
                view = memoryview(flat[lo:hi]).cast("B")
                offset, done = int(rows[lo]) * size, 0
                while done < len(view):
                    got = os.preadv(f.fileno(), [view[done:]], offset + done)
                    if got == 0:
                        raise DataError(f"{pixels}: ends before row {rows[hi - 1]}; remake it")
                    done += got


# ------------------------------------------------------------------ node-local staging


def stage_store(descriptor_path, dst_dir) -> Path:
    """A copy of the store (descriptor and pixels) in `dst_dir`, e.g. node-local disk, and
    the path of its descriptor. Made once per node: jobs staging at the same time wait for
    one another (a lock file), a complete copy is reused, and each file appears by an
    atomic rename only after its size and first and last rows were checked."""
    import fcntl
    import shutil

    import torch

    src = Path(descriptor_path)
    descriptor = torch.load(src, weights_only=True)
    pixels = check_store(src, descriptor)
    dst_dir = Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst, dst_pixels = dst_dir / src.name, dst_dir / descriptor["pixels"]
    with open(dst_dir / f".{src.name}.stage-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also on a kill
        if _staged(src, dst, dst_pixels, descriptor):
            return dst
        for target, source in ((dst_pixels, pixels), (dst, src)):
            tmp = target.with_name(f".{target.name}.staging{os.getpid()}")
            try:
                shutil.copyfile(source, tmp)
                if tmp.stat().st_size != source.stat().st_size:
                    raise DataError(f"{tmp}: copy of {source} is short; is {dst_dir} full?")
                if target == dst_pixels and data_crc(tmp, descriptor) != descriptor["pixels_crc"]:
                    raise DataError(f"{tmp}: copy of {source} differs from it; stage again")
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
    return dst


def _staged(src: Path, dst: Path, dst_pixels: Path, descriptor: dict) -> bool:
    """Whether dst already holds this very store: the same descriptor bytes, and pixels of
    the recorded size and first and last rows."""
    try:
        if dst.read_bytes() != src.read_bytes():
            return False
        size = dst_pixels.stat().st_size
    except OSError:
        return False
    return (
        size == descriptor["pixels_bytes"]
        and data_crc(dst_pixels, descriptor) == descriptor["pixels_crc"]
    )
