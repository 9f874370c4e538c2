"""GPU check, for a GPU machine before the paper's grid: is training on this GPU
reproducible, and how fast is it?

1. Trains one default cell (config/config.yaml: half B of random0, full training, the
   default's sizes and recipe) twice on the GPU from the same initial weights and seed,
   and compares the two nets bit for bit (weights, per-epoch history, test top-1). If
   they differ it says by how much, and trains the pair again under
   torch.use_deterministic_algorithms(True) to tell whether CUDA's non-deterministic
   kernels (atomic adds in some backward passes) are the cause.
2. Steady-state images per second of training (the solver's training steps after a
   warm-up epoch, validation excluded) of a full-training cell and a frozen cell (BnB,
   n = 5) at the default's sizes (28-px grey images, batch 64) and at `alexnet227` sizes
   (config/imagenet.yaml's net and batch, 227-px colour images held on the GPU: the GPU's
   rate, without JPEG decoding).
3. The same `alexnet227` training fed by the real loader instead: the decode-once store
   (transferability.data.store, 256 x 256 uint8 rows memory-mapped from a file on disk),
   crops, mirrors and normalisation on the GPU, and its ratio to the rate from GPU memory:
   `alexnet227_loader_share`, the share of the GPU's training rate the loader sustains
   (1.0: the GPU never waits for data).

The alexnet227 figures use config/config.yaml merged with config/imagenet.yaml, as the grid
runs them (bf16, TF32), and every rate is steady state: images/s of the solver's own
training steps after a warm-up epoch (cuDNN's autotuning), without validation.
benchmarks/device_check.py is the fuller check of whether the input keeps up.

Prints `RESULT <name> <value> <unit>` lines and the device name. Where torch sees no GPU it
says so, prints `RESULT gpu_available 0 bool` and exits 0.

    srun --gres=gpu:1 .venv/bin/python benchmarks/gpu_check.py    # on a GPU node
    .venv/bin/python benchmarks/gpu_check.py --cpu --smoke         # the same code on the CPU
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from pathlib import Path

# cuBLAS is deterministic only with a fixed workspace; set before CUDA starts (harmless else).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from transferability import grid  # noqa: E402
from transferability.data import splits, store, store_loader  # noqa: E402
from transferability.data.fashion_mnist import build_cache, class_names, find_idx_files  # noqa: E402
from transferability.data.halves import load_half  # noqa: E402
from transferability.training import models  # noqa: E402
from transferability.training.device import DEVICE_ENV  # noqa: E402
from transferability.training.sgd import Recipe  # noqa: E402
from transferability.training.solver import derived_seed, train  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device_check import epoch_rates, grid_config, solver_loop  # noqa: E402

FROZEN_N = 5


def result(name: str, value: float, unit: str, fmt: str = ".4g") -> None:
    print(f"RESULT {name} {value:{fmt}} {unit}", flush=True)


def _quiet(*_args) -> None:
    pass


def load_config(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def default_half(config: dict, tmp: Path, data_root: str | None, smoke: bool):
    """Half B of random0 at the default's sizes: real Fashion-MNIST where it is installed,
    else random images of the same shapes (speed and reproducibility do not depend on them)."""
    sub = config["subset"]
    per_class = (20, 5, 10) if smoke else (sub["train_per_class"], sub["val_per_class"], None)
    root = data_root or config["dataset"]["root"]
    if find_idx_files(root) is not None:
        cache = tmp / "cache.pt"
        build_cache("fashion_mnist", root, False, "unused", cache)
        labels = torch.load(cache, weights_only=True)
        names = class_names("fashion_mnist")
        keys = ("train_per_class", "val_per_class", "test_per_class")
        settings = grid.split_settings(config, "random0") | dict(zip(keys, per_class, strict=True))
        record = splits.split_from_settings("random0", settings, names, labels)
        print(f"default cell: Fashion-MNIST from {root}, half B of random0")
        return load_half(cache, record["halves"]["B"]), 5
    print(f"default cell: no Fashion-MNIST at {root}: random 28-px images of the default's sizes")
    test = 10 if smoke else 1000
    return synthetic(5, per_class[0], per_class[1], test, channels=1, side=28), 5


def synthetic(classes: int, train: int, val: int, test: int, channels: int, side: int) -> dict:
    """Normalised random images (per class counts), channels_last, with their labels."""
    generator = torch.Generator().manual_seed(0)
    parts = {}
    for part, per_class in (("train", train), ("val", val), ("test", test)):
        y = torch.arange(classes).repeat_interleave(per_class)
        x = torch.randn(len(y), channels, side, side, generator=generator)
        parts[part] = (x.contiguous(memory_format=torch.channels_last), y)
    return parts


def run(start: models.TransferNet, data: dict, recipe: Recipe, n_frozen: int, seed: int):
    net = copy.deepcopy(start).to(memory_format=torch.channels_last)
    outcome, _ = train(net, data, recipe, n_frozen, seed, log=_quiet)
    return outcome, {k: v.detach().cpu() for k, v in net.state_dict().items()}


def differences(a, b) -> tuple[int, float]:
    """Tensors that differ, and the largest absolute difference of any weight."""
    (oa, wa), (ob, wb) = a, b
    differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
    largest = max(((wa[k].float() - wb[k].float()).abs().max().item() for k in differ), default=0)
    same_history = oa.history == ob.history and oa.top1 == ob.top1
    return len(differ) + (not same_history), largest


def images_per_second(outcome, n_train: int) -> float:
    return n_train * outcome.epochs_run / outcome.train_seconds


def check_reproducible(initial, data, recipe: Recipe, seed: int) -> tuple:
    first, second = run(initial, data, recipe, 0, seed), run(initial, data, recipe, 0, seed)
    count, largest = differences(first, second)
    result("gpu_bit_identical", int(count == 0), "bool")
    if count == 0:
        print("two runs of the default cell agree to the bit (weights, history, top-1)")
        return second
    print(
        f"two runs of the default cell differ: {count} tensors or records, largest weight "
        f"difference {largest:.3g}; trying again with torch.use_deterministic_algorithms(True)"
    )
    torch.use_deterministic_algorithms(True)
    try:
        count, largest = differences(*(run(initial, data, recipe, 0, seed) for _ in range(2)))
    except RuntimeError as e:  # an op without a deterministic CUDA kernel names itself
        print(f"cannot be made bit-identical: {str(e).splitlines()[0]}")
        result("gpu_bit_identical_deterministic_algorithms", 0, "bool")
    else:
        result("gpu_bit_identical_deterministic_algorithms", int(count == 0), "bool")
        print(
            "with deterministic algorithms: "
            + (
                "bit-identical, so CUDA's non-deterministic kernels were the cause"
                if count == 0
                else f"still {count} differences (largest {largest:.3g})"
            )
        )
    finally:
        torch.use_deterministic_algorithms(False)
    return second


def steady(net, data: dict, recipe: Recipe, n_frozen: int) -> float:
    """Training images/s after a warm-up epoch: the best of 2 timed epochs."""
    device = torch.device("cuda" if os.environ[DEVICE_ENV] == "cuda" else "cpu")
    data = {"train": tuple(t.to(device) if torch.is_tensor(t) else t for t in data["train"])}
    loop, progress, feats = solver_loop(copy.deepcopy(net), data, recipe, n_frozen, device)
    epoch_rates(loop, progress, feats, device, 1)
    return max(epoch_rates(loop, progress, feats, device, 2))


def speeds(label: str, layout: str, data: dict, classes: int, recipe: Recipe, model: dict):
    """Steady-state images/s of a full-training cell and a frozen (BnB, n = 5) cell."""
    widths, channels = model.get("widths"), model.get("in_channels", 1)
    torch.manual_seed(derived_seed("gpu_check", label, "base"))
    base = models.TransferNet(layout, classes, channels, widths)
    full = steady(base, data, recipe, 0)
    result(f"{label}_full_img_per_s", full, "img/s", ".0f")
    frozen = steady(base, data, recipe, FROZEN_N)
    result(f"{label}_frozen_n{FROZEN_N}_img_per_s", frozen, "img/s", ".0f")
    return full


def stored_half(tmp: Path, classes: int, train: int, val: int, test: int, crop: int) -> dict:
    """A half read through the real loader from a store of random pixels on disk (the
    store's one-off decoding is left out: the loader is what every epoch pays)."""
    import numpy as np

    side, per_class = store.SIDE_DEFAULT, train + val
    n_train, n_test = classes * per_class, classes * test
    path = tmp / "store.pt"
    pixels = store.pixels_path(path)
    rows = np.memmap(pixels, np.uint8, "w+", shape=(n_train + n_test, side, side, 3))
    rng = np.random.default_rng(0)
    for i in range(0, len(rows), 256):
        rows[i : i + 256] = rng.integers(0, 256, rows[i : i + 256].shape, dtype=np.uint8)
    rows.flush()
    del rows
    train_y = torch.arange(classes).repeat_interleave(per_class)
    descriptor = {
        "kind": store.KIND,
        "classes": [str(c) for c in range(classes)],
        "resize": side,
        "crop": crop,
        "side": side,
        "train_files": [],
        "test_files": [],
        "train_y": train_y,
        "test_y": torch.arange(classes).repeat_interleave(test),
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "pixels": pixels.name,
        "rows": {"train": n_train, "test": n_test},
        "pixels_bytes": pixels.stat().st_size,
        "pixels_crc": store._row_crc(pixels, side, n_train + n_test),
        "train_stat": torch.zeros((0, 2), dtype=torch.int64),
        "test_stat": torch.zeros((0, 2), dtype=torch.int64),
    }
    positions = torch.arange(n_train).view(classes, per_class)
    half = {
        "train_idx": positions[:, :train].flatten().tolist(),
        "val_idx": positions[:, train:].flatten().tolist(),
        "test_idx": list(range(n_test)),
    }
    return store_loader.load_half(path, descriptor, half, torch.arange(classes))


def loader_share(tmp: Path, classes, per_class, val, recipe: Recipe, model: dict, memory_rate):
    """alexnet227 trained through the real loader, against the rate from GPU memory."""
    data = stored_half(tmp, classes, per_class, val, val, 227)
    torch.manual_seed(derived_seed("gpu_check", "alexnet227", "base"))
    net = models.TransferNet("alexnet227", classes, 3, model.get("widths"))
    rate = steady(net, data, recipe, 0)
    result("alexnet227_loader_img_per_s", rate, "img/s", ".0f")
    result("alexnet227_loader_share", rate / memory_rate, "x", ".3f")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--smoke", "--quick", action="store_true", help="tiny sizes: checks the script runs"
    )
    p.add_argument("--cpu", action="store_true", help="run the checks on the CPU (for tests)")
    p.add_argument("--data-root", help="Fashion-MNIST IDX files (default: the config's)")
    p.add_argument("--alexnet-images", type=int, default=2048, help="training images, 227 px")
    args = p.parse_args()

    if not args.cpu and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        print(
            f"no GPU: torch {torch.__version__} ({build}) sees no CUDA device"
            + (f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else "")
            + ". Nothing to check here; run this on a GPU node, e.g. "
            "`srun --gres=gpu:1 .venv/bin/python benchmarks/gpu_check.py`."
        )
        result("gpu_available", 0, "bool")
        return 0
    os.environ[DEVICE_ENV] = "cpu" if args.cpu else "cuda"
    if args.cpu:
        print("device: cpu (--cpu: the GPU checks on the CPU)")
    else:
        major, minor = torch.cuda.get_device_capability()
        print(f"device: {torch.cuda.get_device_name()} (compute capability {major}.{minor})")
        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}")
        result("gpu_capability", major + minor / 10, "cc", ".1f")
    result("gpu_available", int(not args.cpu), "bool")

    config = load_config("config.yaml")
    recipe = Recipe.from_config(grid.recipe(config, "base"))
    if args.smoke:
        recipe = Recipe(**{**recipe.__dict__, "epochs": 1})
    with tempfile.TemporaryDirectory() as tmp:
        data, classes = default_half(config, Path(tmp), args.data_root, args.smoke)
    torch.manual_seed(derived_seed("gpu_check", "reproducible"))
    initial = models.TransferNet("small28", classes, 1, config["model"]["widths"])
    check_reproducible(initial, data, recipe, derived_seed("gpu_check", "reproducible", "seed"))
    speeds("default", "small28", data, classes, recipe, config["model"])

    imagenet = grid_config()  # what the grid runs: config.yaml under imagenet.yaml
    big = Recipe.from_config(grid.recipe(imagenet, "base") | {"epochs": 2})
    model = dict(imagenet["model"])
    images, val, classes = args.alexnet_images, 500, 500  # 500 classes: one half of ImageNet
    if args.smoke:
        big = Recipe(**{**big.__dict__, "epochs": 1, "batch_size": 8})
        model["widths"] = [8, 8, 8, 8, 8, 16, 16]
        images, val, classes = 16, 4, 4
    per_class = max(1, images // classes)
    data = synthetic(classes, per_class, max(1, val // classes), max(1, val // classes), 3, 227)
    n_train = len(data["train"][1])
    print(f"alexnet227: {n_train} random 227-px images in memory, batch {big.batch_size}")
    memory_rate = speeds("alexnet227", "alexnet227", data, classes, big, model)
    del data
    with tempfile.TemporaryDirectory() as tmp:
        loader_share(Path(tmp), classes, per_class, max(1, val // classes), big, model, memory_rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
