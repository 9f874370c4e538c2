"""Images/s the store's loader delivers into (pinned, where CUDA is present) host memory,
per gather thread and at 1, 2 and 4 threads: the host side of feeding a GPU.

Writes a store of random 256 x 256 rows, holds a half of it in RAM (dataset.store_in_memory)
or reads it through the memory map (warm page cache), and times whole epochs of batches of
256 in random order through StoredImages' gather threads (store_loader.py), wall clock, the
best of --repeats timings of at least --seconds each. No crop or normalisation: on a GPU
they run there. Pinned memory needs CUDA: on a machine without it the batches go to
pageable memory, and the line `# pinned: no` says so.

Then the same for a JPEG store (dataset.store_format: jpeg) held in RAM, decoded on the
CPU in the gather threads (the fallback where a GPU's nvJPEG is missing; on a GPU the
decode runs there): its images are 256 x 256 crops of a photograph (matplotlib's
grace_hopper.jpg, each crop shifted and scaled differently) at quality 90, so their size
and decode cost are a photograph's, not random noise's. Its bytes per image are printed.

    .venv/bin/python benchmarks/loader_threads.py [--images 2048] [--repeats 3]
    .venv/bin/python benchmarks/loader_threads.py --quick
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_check import (  # noqa: E402
    Sizes,
    grid_config,
    stored_data,
    write_jpeg_store,
    write_store,
)
from imagefolder_pipeline import cpu_model  # noqa: E402

BATCH = 256


def result(name: str, value, unit: str) -> None:
    print(f"RESULT {name} {value} {unit}", flush=True)


def rate(images, repeats: int, seconds: float) -> float:
    """Images/s of gathering epochs of batches, the best of `repeats` timings."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    images.prepare(device, seed=0, flip=True)
    order = torch.randperm(len(images))
    chunks = list(order.split(BATCH))  # positions of each batch's images

    def epoch() -> int:
        return sum(len(x) for x in images._prefetched(chunks))

    epoch()  # warm-up: page cache, pinned allocator
    best = 0.0
    for _ in range(repeats):
        started, seen = time.perf_counter(), 0
        while time.perf_counter() - started < seconds or not seen:
            seen += epoch()
        best = max(best, seen / (time.perf_counter() - started))
    return best


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.repeats, args.seconds = 512, 1, 0.2
    import torch

    pinned = torch.cuda.is_available()
    print(
        f"# cpu: {cpu_model()}; torch threads {torch.get_num_threads()}; {args.images} rows "
        f"of 196,608 B; batch {BATCH}; pinned: {'yes' if pinned else 'no (no CUDA here)'}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    sizes = Sizes(tiny=True, config=grid_config())
    sizes.store_images = args.images
    with tempfile.TemporaryDirectory(prefix="loader-threads-") as tmp:
        stored = write_store(Path(tmp), sizes)
        rates = {}
        for where, in_memory in (("in_memory", True), ("mapped", False)):
            for threads in (1, 2, 4):
                feed = {"in_memory": in_memory, "gather_threads": threads, "prefetch": 4}
                images, _ = stored_data(stored, sizes, feed)["train"]
                rates[where, threads] = rate(images, args.repeats, args.seconds)
                result(
                    f"loader_images_per_s_{where}_threads{threads}",
                    round(rates[where, threads]),
                    "images/s",
                )
        result("store_bytes_per_image_raw", store_row_bytes(), "B")
        jpeg = write_jpeg_store(Path(tmp), args.images, sizes.classes)
        result("store_bytes_per_image_jpeg", round(jpeg[1]["pixels_bytes"] / args.images), "B")
        for threads in (1, 2, 4):
            feed = {"in_memory": True, "gather_threads": threads, "prefetch": 4}
            images, _ = stored_data(jpeg, sizes, feed)["train"]
            rates["jpeg", threads] = rate(images, args.repeats, args.seconds)
            result(
                f"loader_jpeg_images_per_s_threads{threads}",
                round(rates["jpeg", threads]),
                "images/s",
            )
    result("loader_images_per_s_per_thread", round(rates["in_memory", 1]), "images/s")
    result("loader_scaling_4_threads", round(rates["in_memory", 4] / rates["in_memory", 1], 2), "x")
    result("loader_jpeg_images_per_s_per_thread", round(rates["jpeg", 1]), "images/s")


def store_row_bytes() -> int:
    from transferability.data import store

    return store.row_bytes(store.SIDE_DEFAULT)


if __name__ == "__main__":
    main()
