"""Images per CPU-second of the ImageNet training input, per core: the decode-once store
(transferability.data.store + store_loader: a memory-mapped uint8 row per image, crop,
mirror and normalisation in batches) against the JPEG path it replaces as the default
(transferability.data.imagefolder: decode, resize and crop every image every epoch, with
PIL), plus the one-off cost of writing the store.

Generates ImageNet-like JPEGs (500 x 375, quality 90, ~70 KB, as in imagefolder_pipeline.py)
in ImageFolder layout. Each path runs one training epoch's batches (batch 64, random crops
and mirrors, normalised float output) on the CPU with one torch thread; the figure is
images per second of process CPU time (the store's prefetch thread included), i.e. per
core, the best of --repeats passes after a warm-up pass.

`input_images_per_s_per_core` is the new path as it feeds a GPU: the host's work per image
is gathering its row into the batch (crop, mirror and normalisation run on the GPU);
`..._cpu_augment` adds them on this CPU, as a CPU-only run does. The PIL path
(`..._pil`) does all of its work on the host either way.

    .venv/bin/python benchmarks/input_pipeline.py [--images 256] [--repeats 3]
    .venv/bin/python benchmarks/input_pipeline.py --quick     # seconds (also
                                                              # TRANSFERABILITY_BENCH_QUICK=1)

Prints the CPU model and `RESULT <name> <value> <unit>` lines.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from imagefolder_pipeline import cpu_model, write_jpegs  # noqa: E402

RESIZE, CROP, BATCH, CLASSES = 256, 227, 64, 4
QUICK_ENV = "TRANSFERABILITY_BENCH_QUICK"


def result(name: str, value, unit: str) -> None:
    print(f"RESULT {name} {value} {unit}", flush=True)


def best_rate(one_pass, repeats: int, min_seconds: float) -> float:
    """Images per CPU-second: the best of `repeats` timings, each of as many passes as
    take at least `min_seconds` of CPU time, after one untimed pass."""
    one_pass()
    rates = []
    for _ in range(repeats):
        started, seen = time.process_time(), 0
        while True:
            seen += one_pass()
            spent = time.process_time() - started
            if spent >= min_seconds:
                break
        rates.append(seen / spent)
    return max(rates)


def jpeg_path(index: dict, n: int):
    import torch

    from transferability.data import imagefolder

    half = {"train_idx": list(range(n)), "val_idx": [], "test_idx": [0]}
    stream, _ = imagefolder.load_half(index, half, torch.arange(CLASSES), workers=0)["train"]

    def one_pass() -> int:
        return sum(len(xb) for _, xb in stream.batches(torch.randperm(n), BATCH))

    return one_pass


def store_paths(descriptor_path: Path, n: int):
    """One pass of the whole CPU path, and one of the host's part alone (the gather)."""
    import torch

    from transferability.data import store_loader
    from transferability.data.cache import load_cache

    descriptor = load_cache(descriptor_path)
    half = {"train_idx": list(range(n)), "val_idx": [], "test_idx": [0]}
    images, _ = store_loader.load_half(descriptor_path, descriptor, half, torch.arange(CLASSES))[
        "train"
    ]
    images.prepare("cpu", seed=0, flip=True)
    epoch = iter(range(1, 1 << 30))

    def one_pass() -> int:
        return sum(len(xb) for _, xb in images.batches(torch.randperm(n), BATCH, next(epoch)))

    def host_pass() -> int:
        return sum(len(images._gather(c)) for c in torch.randperm(n).split(BATCH))

    return one_pass, host_pass


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--size", default="500x375", help="width x height of the JPEGs")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help=f"seconds, for tests (or {QUICK_ENV}=1)")
    args = p.parse_args(argv)
    quick = args.quick or os.environ.get(QUICK_ENV, "") not in ("", "0")
    if quick:
        args.images, args.repeats = 32, 1
    min_seconds = 0.2 if quick else 2.0
    width, height = (int(v) for v in args.size.split("x"))
    import torch

    from transferability.data import imagefolder, store
    from transferability.data.cache import load_cache

    torch.set_num_threads(1)
    print(
        f"# cpu: {cpu_model()}; {args.images} JPEGs {width}x{height} q90; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="input-bench-") as tmp:
        work = Path(tmp)
        root = write_jpegs(work / "data", args.images, width, height)
        imagefolder.build_index(root, RESIZE, CROP, 8, work / "index.pt")
        index = load_cache(work / "index.pt")
        started = time.process_time()
        store.write_store(index, RESIZE, work / "store.pt", workers=1)
        written = len(index["train_files"]) + len(index["test_files"])
        per_image = (time.process_time() - started) / written
        stored, host = store_paths(work / "store.pt", args.images)
        jpeg = best_rate(jpeg_path(index, args.images), args.repeats, min_seconds)
        new = best_rate(stored, args.repeats, min_seconds)
        gather = best_rate(host, args.repeats, min_seconds)
    # The new path as it feeds a GPU: the host gathers rows, the GPU crops and normalises.
    result("input_images_per_s_per_core", round(gather, 1), "images/s")
    result("input_images_per_s_per_core_pil", round(jpeg, 1), "images/s")
    result("input_speedup_per_core", round(gather / jpeg, 2), "x")
    # A CPU-only run: the crops, mirrors and normalisation on this CPU too.
    result("input_images_per_s_per_core_cpu_augment", round(new, 1), "images/s")
    result("input_speedup_per_core_cpu_augment", round(new / jpeg, 2), "x")
    result("store_write_ms_per_image", round(per_image * 1000, 2), "ms")
    result("store_bytes_per_image", RESIZE * RESIZE * 3, "B")


if __name__ == "__main__":
    main()
