"""The decisive five minutes on the first GPU: is a training job at paper size fed?

With the configs the ImageNet grid runs (config/config.yaml merged with
config/imagenet.yaml, key by key as Snakemake merges --configfile: bf16 autocast, TF32,
batch 256, the alexnet227 net of a 500-class half), on one GPU:

1. `full_cell_img_per_s`, `frozen_n5_img_per_s`: steady-state training images/s of a full
   cell and of a frozen cell chopped at n = 5 (conv1..conv5 frozen, run without a graph
   every step, as a cell reading the store runs them), fed from GPU memory (synthetic
   227-px images), timed after warm-up epochs (cuDNN's autotuning, the caching allocator).
2. `loader_to_device_img_per_s` (and per gather-thread count): the loader alone: rows of
   a store (random pixels in a file) gathered into pinned memory, copied to the GPU,
   cropped, mirrored and normalised there, with no net. `loader_jpeg_to_device_img_per_s`:
   the same from a JPEG store held in RAM (dataset.store_format: jpeg; crops of a
   photograph at quality 90) decoded on the GPU with nvJPEG, and its share of the frozen
   cell's rate (`jpeg_fed_share`).
3. `store_cold_img_per_s`, `store_warm_img_per_s`, `store_in_memory_img_per_s`: the full
   cell trained through the store: its first epoch with the file dropped from the page
   cache (cold), a second epoch (warm: page cache), and from the half read into RAM.
4. `gpu_busy_share`: NVML's utilisation (torch.cuda.utilization) sampled through the
   store-fed epochs; where NVML is missing, the store-fed rate over the rate from memory.

Each prints `RESULT <name> <value> <unit>`; the last line is the verdict: "fed" or
"input-bound at X%" (X: the store-fed rate of the fastest cell as a share of its rate from
GPU memory). Without a GPU it prints one line and exits 0.

    srun --gres=gpu:1 --time=10 .venv/bin/python benchmarks/device_check.py
    .venv/bin/python benchmarks/device_check.py --cpu --tiny   # the same code, tiny, on the CPU
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
# A share of the rate from memory at or above this counts as fed (timing noise aside).
FED_SHARE = 0.9
FROZEN_N = 5
PHOTO = "mpl-data/sample_data/grace_hopper.jpg"  # matplotlib's sample photograph
JPEG_IMAGES = 2048  # the JPEG store's size here: encoding takes ~3 ms per image


def result(name: str, value: float, unit: str, fmt: str = ".4g") -> None:
    print(f"RESULT {name} {value:{fmt}} {unit}", flush=True)


def merged_config(*names: str) -> dict:
    """config/<names> merged left to right as Snakemake merges config files: mappings key
    by key, recursively, anything else replaced."""
    import yaml

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(out.get(key), dict)
            out[key] = merge(out[key], value) if both else value
        return out

    config: dict = {}
    for name in names:
        config = merge(config, yaml.safe_load((REPO / "config" / name).read_text()))
    return config


def grid_config() -> dict:
    return merged_config("config.yaml", "imagenet.yaml")


def no_gpu_line() -> str | None:
    """The one line to print where torch sees no GPU, else None."""
    import torch

    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    return (
        f"no GPU: torch {torch.__version__} ({build}) sees no CUDA device; nothing measured. "
        "Run on a GPU node: srun --gres=gpu:1 .venv/bin/python benchmarks/device_check.py"
    )


class Sizes:
    def __init__(self, tiny: bool, config: dict):
        base = config["training"]["base"]
        self.batch = 8 if tiny else base["batch_size"]
        self.classes = 4 if tiny else 500
        self.widths = [8, 8, 8, 8, 8, 16, 16] if tiny else config["model"]["widths"]
        self.memory_images = 16 if tiny else 40 * self.batch  # ~6 GB as float on the GPU
        self.store_images = 32 if tiny else 8192  # 1.6 GB file: more than one epoch's batches
        self.warmup_epochs = 1
        self.timed_epochs = 1 if tiny else 3


def setup(sizes: Sizes, config: dict, device, n_frozen: int, data: dict):
    """The solver's own epoch loop (training/solver.py) for a fresh alexnet227."""
    import torch

    from transferability import grid
    from transferability.training import models
    from transferability.training.sgd import Recipe

    recipe = Recipe.from_config(grid.recipe(config, "base") | {"batch_size": sizes.batch})
    torch.manual_seed(0)
    net = models.TransferNet("alexnet227", sizes.classes, 3, sizes.widths)
    return solver_loop(net, data, recipe, n_frozen, device)


def solver_loop(net, data: dict, recipe, n_frozen: int, device):
    """The training loop of solver.train for `net` (first n_frozen stages frozen), without
    its validation, checkpoints and test: what each training step costs."""
    import torch

    from transferability.training import device as devices
    from transferability.training import models
    from transferability.training.sgd import MomentumSGD
    from transferability.training.solver import _Loop, _Progress

    devices.configure(device, recipe.precision)
    net = net.to(device, memory_format=torch.channels_last)
    models.freeze(net, n_frozen)
    params = [p for p in net.parameters() if p.requires_grad]
    sgd = MomentumSGD(params, recipe.momentum, recipe.weight_decay, recipe.clip_grad_norm)
    for x, _ in data.values():
        if hasattr(x, "prepare"):
            x.prepare(device, 0, recipe.augment_flip)
    generator = torch.Generator().manual_seed(0)
    loop = _Loop(net, data, recipe, n_frozen, device, sgd, generator)
    # A frozen prefix whose output is the same every epoch is run once, as solver.train
    # does (not for flipped or streamed images: those run every stage every step).
    feats, _ = loop.cache_features(data, log=lambda *_: None)
    return loop, _Progress.start(net, None), feats


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def epoch_rates(loop, progress, data: dict, device, epochs: int) -> list[float]:
    """Training images/s of each of `epochs` epochs of the loop, timed to the GPU's end."""
    x, y = data["train"]
    rates = []
    for _ in range(epochs):
        synchronize(device)
        started = time.perf_counter()
        loop.run_epoch(len(rates) + 1, x, y, progress)
        synchronize(device)
        rates.append(len(y) / (time.perf_counter() - started))
    return rates


def memory_data(sizes: Sizes, device) -> dict:
    import torch

    torch.manual_seed(0)
    y = torch.arange(sizes.memory_images) % sizes.classes
    x = torch.randn(sizes.memory_images, 3, 227, 227, device=device)  # made where it is used
    x = x.contiguous(memory_format=torch.channels_last)
    return {"train": (x, y.to(device))}


def steady_rate(sizes: Sizes, config: dict, device, n_frozen: int, data: dict) -> float:
    loop, progress, feats = setup(sizes, config, device, n_frozen, data)
    epoch_rates(loop, progress, feats, device, sizes.warmup_epochs)
    return max(epoch_rates(loop, progress, feats, device, sizes.timed_epochs))


def write_store(tmp: Path, sizes: Sizes):
    """A store of random pixels on disk and its descriptor (store_images' output form)."""
    import numpy as np
    import torch

    from transferability.data import store

    side, n = store.SIDE_DEFAULT, sizes.store_images
    path = tmp / "store.pt"
    pixels = store.pixels_path(path)
    rows = np.memmap(pixels, np.uint8, "w+", shape=(n, side, side, 3))
    rng = np.random.default_rng(0)
    for i in range(0, n, 256):
        rows[i : i + 256] = rng.integers(0, 256, rows[i : i + 256].shape, dtype=np.uint8)
    rows.flush()
    del rows
    descriptor = {
        "kind": store.KIND, "classes": [str(c) for c in range(sizes.classes)],
        "resize": side, "crop": 227, "side": side, "train_files": [], "test_files": [],
        "train_y": torch.arange(n) % sizes.classes, "test_y": torch.zeros(0, dtype=torch.int64),
        "mean": [0.5] * 3, "std": [0.25] * 3, "pixels": pixels.name,
        "rows": {"train": n, "test": 0}, "pixels_bytes": pixels.stat().st_size,
        "pixels_crc": store._row_crc(pixels, side, n),
        "train_stat": torch.zeros((0, 2), dtype=torch.int64),
        "test_stat": torch.zeros((0, 2), dtype=torch.int64),
    }  # fmt: skip
    half = {"train_idx": list(range(n)), "val_idx": [], "test_idx": []}
    return path, descriptor, half


def write_jpeg_store(tmp: Path, n: int, classes: int):
    """A JPEG store of `n` crops of a photograph (store_jpeg's form) and its descriptor."""
    import matplotlib
    import numpy as np
    import torch
    from PIL import Image

    from transferability.data import store, store_jpeg

    side = store.SIDE_DEFAULT
    photo = Image.open(Path(matplotlib.get_data_path()).parent / PHOTO).convert("RGB")
    rng = np.random.default_rng(0)
    path = tmp / "jpeg.pt"
    data, offsets = store_jpeg.data_path(path), [0]
    with open(data, "wb") as f:
        for _ in range(n):
            w = int(rng.integers(side, photo.width + 1))
            h = int(rng.integers(side, photo.height + 1))
            x, y = (
                int(rng.integers(0, photo.width - w + 1)),
                int(rng.integers(0, photo.height - h + 1)),
            )
            crop = photo.crop((x, y, x + w, y + h)).resize((side, side), Image.Resampling.BILINEAR)
            blob = store_jpeg.encode(np.asarray(crop), 90)
            f.write(blob)
            offsets.append(offsets[-1] + len(blob))
    descriptor = {
        "kind": store.KIND, "format": store_jpeg.FORMAT, "quality": 90, "side": side,
        "classes": [str(c) for c in range(classes)], "resize": side, "crop": 227,
        "train_files": [], "test_files": [], "train_y": torch.arange(n) % classes,
        "test_y": torch.zeros(0, dtype=torch.int64), "mean": [0.5] * 3, "std": [0.25] * 3,
        "pixels": data.name, "rows": {"train": n, "test": 0}, "pixels_bytes": offsets[-1],
        "offsets": torch.tensor(offsets),
        "train_stat": torch.zeros((0, 2), dtype=torch.int64),
        "test_stat": torch.zeros((0, 2), dtype=torch.int64),
    }  # fmt: skip
    descriptor["pixels_crc"] = store.data_crc(data, descriptor)
    half = {"train_idx": list(range(n)), "val_idx": [], "test_idx": []}
    return path, descriptor, half


def drop_cache(path: Path) -> None:
    """Evict a file's pages from the page cache (clean pages: it was flushed): cold reads."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def stored_data(stored, sizes: Sizes, feed: dict) -> dict:
    import torch

    from transferability.data import store_loader

    path, descriptor, half = stored
    relabel = torch.arange(sizes.classes)
    return {"train": store_loader.load_half(path, descriptor, half, relabel, feed)["train"]}


def loader_rate(stored, sizes: Sizes, device, feed: dict) -> float:
    """Images/s of the loader alone: gather, copy to the device, crop, mirror, normalise."""
    import torch

    images, _ = stored_data(stored, sizes, feed)["train"]
    images.prepare(device, seed=0, flip=True)
    order = torch.randperm(len(images))
    for epoch in range(2):  # the first pass warms the page cache and the pinned allocator
        synchronize(device)
        started = time.perf_counter()
        for _, x in images.batches(order, sizes.batch, epoch):
            x.sum()  # the batch is used on the device
        synchronize(device)
    return len(images) / (time.perf_counter() - started)


class Busy:
    """NVML's GPU utilisation sampled in a thread; None where NVML is missing."""

    def __init__(self, device):
        import torch

        self.samples: list[int] = []
        self.device, self.stop = device, threading.Event()
        try:
            torch.cuda.utilization(device)
            self.ok = device.type == "cuda"
        except Exception:  # no pynvml / NVML: the share is derived from the rates instead
            self.ok = False

    def __enter__(self):
        import torch

        def sample():
            while not self.stop.wait(0.1):
                self.samples.append(torch.cuda.utilization(self.device))

        if self.ok:
            self.thread = threading.Thread(target=sample, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        if self.ok:
            self.thread.join()

    def share(self) -> float | None:
        return sum(self.samples) / len(self.samples) / 100 if self.samples else None


def store_rates(stored, sizes: Sizes, config: dict, device, threads: int) -> dict:
    """The full cell trained through the store: cold, warm (page cache), in RAM."""
    feed = {"gather_threads": threads, "prefetch": max(2, threads)}
    data = stored_data(stored, sizes, feed)
    loop, progress, data = setup(sizes, config, device, 0, data)
    rates = {}
    with Busy(device) as busy:
        drop_cache(stored[0].with_suffix(".pixels"))
        rates["cold"] = epoch_rates(loop, progress, data, device, 1)[0]
        rates["warm"] = max(epoch_rates(loop, progress, data, device, sizes.timed_epochs))
    held = stored_data(stored, sizes, feed | {"in_memory": True})
    loop.streamed = True  # the same loop, rows now from RAM
    rates["in_memory"] = max(epoch_rates(loop, progress, held, device, sizes.timed_epochs))
    rates["busy"] = busy.share()
    return rates


def verdict(share: float) -> str:
    """The one-line verdict from the share of the GPU's rate the input sustains."""
    return "fed" if share >= FED_SHARE else f"input-bound at {share:.0%}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU (tests the code path)")
    p.add_argument(
        "--tiny", "--quick", action="store_true", help="tiny sizes: seconds, not minutes"
    )
    args = p.parse_args(argv)
    if not args.cpu and (line := no_gpu_line()):
        print(line)
        return 0
    started = time.perf_counter()
    import torch

    from transferability_runtime import driver_check

    device = torch.device("cpu" if args.cpu else "cuda")
    config = grid_config()
    sizes = Sizes(args.tiny, config)
    base = config["training"]["base"]
    if device.type == "cuda":
        driver = driver_check.query_driver()
        print(f"# {torch.cuda.get_device_name(device)}, torch {torch.__version__}, driver {driver}")
        if driver:
            print(f"# {driver_check.advice(driver)}")
    print(
        f"# merged config/config.yaml + config/imagenet.yaml: precision "
        f"{base.get('precision', 'fp32')}, batch {sizes.batch}, {sizes.classes} classes",
        flush=True,
    )
    data = memory_data(sizes, device)
    full = steady_rate(sizes, config, device, 0, data)
    result("full_cell_img_per_s", full, "images/s", ".0f")
    frozen = steady_rate(sizes, config, device, FROZEN_N, data)
    result(f"frozen_n{FROZEN_N}_img_per_s", frozen, "images/s", ".0f")
    del data
    threads = config["dataset"].get("gather_threads", 1)
    with tempfile.TemporaryDirectory(prefix="device-check-") as tmp:
        stored = write_store(Path(tmp), sizes)
        loader = {}
        for n in sorted({1, 2, 4, threads}):
            loader[n] = loader_rate(stored, sizes, device, {"gather_threads": n, "prefetch": 4})
            result(f"loader_to_device_img_per_s_threads{n}", loader[n], "images/s", ".0f")
        result("loader_to_device_img_per_s", max(loader.values()), "images/s", ".0f")
        rates = store_rates(stored, sizes, config, device, max(loader, key=loader.get))
        jpeg = write_jpeg_store(Path(tmp), min(JPEG_IMAGES, sizes.store_images), sizes.classes)
        best = max(loader, key=loader.get)
        jpeg_feed = {"gather_threads": best, "prefetch": 4, "in_memory": True}
        jpeg_rate = loader_rate(jpeg, sizes, device, jpeg_feed)
    result("loader_jpeg_to_device_img_per_s", jpeg_rate, "images/s", ".0f")
    result("jpeg_fed_share", jpeg_rate / frozen, "x", ".3f")
    result("store_cold_img_per_s", rates["cold"], "images/s", ".0f")
    result("store_warm_img_per_s", rates["warm"], "images/s", ".0f")
    result("store_in_memory_img_per_s", rates["in_memory"], "images/s", ".0f")
    busy = (
        rates["busy"]
        if rates["busy"] is not None
        else max(rates["warm"], rates["in_memory"]) / full
    )
    result("gpu_busy_share", busy, "x", ".3f")
    # The frozen cell is the fastest consumer: fed if the loader keeps up with it, and the
    # store-fed full cell trains at its rate from memory.
    share = min(max(loader.values()) / frozen, max(rates["warm"], rates["in_memory"]) / full)
    result("fed_share", share, "x", ".3f")
    result("device_check_seconds", time.perf_counter() - started, "s", ".1f")
    print(verdict(share))
    return 0


if __name__ == "__main__":
    sys.exit(main())
