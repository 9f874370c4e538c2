"""Images per second per core of the ImageNet training input pipeline: ours
(transferability.data.imagefolder: Stream over an index) against torchvision's ImageFolder +
DataLoader with the standard transforms for the paper's augmentation (Resize(256),
RandomCrop(227), RandomHorizontalFlip, ToTensor, Normalize).

Generates ImageNet-like JPEGs (500 x 375, quality 90, smooth shapes plus noise, ~70 KB
each, as ILSVRC-2012's typical photo), in ImageFolder layout. Both pipelines run in one
process (DataLoader num_workers=0), so images/s is per core; a DataLoader with W workers
scales it by about W. Each pipeline reads every image once untimed (warm file cache),
then the best of --repeats timed passes counts. `--size 1000x750` gives larger images,
where ours also decodes at half scale (JPEG DCT scaling).

    .venv/bin/python benchmarks/imagefolder_pipeline.py [--images 192] [--size 500x375]

Prints the CPU model and `RESULT <name> <value> <unit>` lines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

RESIZE, CROP, BATCH, CLASSES = 256, 227, 64, 4


def result(name: str, value, unit: str) -> None:
    print(f"RESULT {name} {value} {unit}", flush=True)


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    line = next((x for x in out.splitlines() if x.startswith("Model name")), "Model name: ?")
    return line.split(":", 1)[1].strip()


def write_jpegs(root: Path, images: int, width: int, height: int) -> Path:
    """root/{train,val}/<class>/*.JPEG: photo-like content (shapes, gradients, noise)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    for sub, count in (("train", images), ("val", CLASSES)):
        for i in range(count):
            folder = root / sub / f"n{i % CLASSES:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)])
            base = base.transpose(1, 2, 0)
            for _ in range(6):
                cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(20, 150)
                base[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 255, 3)
            pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{sub}_{i}.JPEG", quality=90)
    return root


def ours(root: Path, work: Path):
    import torch

    from transferability.data import imagefolder

    index_path = work / "index.pt"
    imagefolder.build_index(root, RESIZE, CROP, 8, index_path)
    index = torch.load(index_path, weights_only=True)
    n = len(index["train_files"])
    half = {"train_idx": list(range(n)), "val_idx": [], "test_idx": [0]}
    stream, _ = imagefolder.load_half(index, half, torch.arange(CLASSES), workers=0)["train"]

    def one_pass() -> int:
        seen = 0
        for _, xb in stream.batches(torch.randperm(n), BATCH):
            seen += len(xb)
        return seen

    return one_pass


def torchvision_imagefolder(root: Path, mean, std):
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [
            transforms.Resize(RESIZE),
            transforms.RandomCrop(CROP),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    dataset = datasets.ImageFolder(str(root / "train"), transform=transform)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0)

    def one_pass() -> int:
        seen = 0
        for xb, _ in loader:
            seen += len(xb)
        return seen

    del torch
    return one_pass


def best_rate(one_pass, repeats: int) -> float:
    one_pass()  # warm: file cache, imports, first allocations
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        seen = one_pass()
        rates.append(seen / (time.perf_counter() - started))
    return max(rates)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=192)
    p.add_argument("--size", default="500x375", help="width x height of the JPEGs")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="16 images once: checks it runs")
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.repeats = 16, 1
    width, height = (int(v) for v in args.size.split("x"))
    import torch

    torch.set_num_threads(1)  # one core each, as a DataLoader worker has
    print(f"# cpu: {cpu_model()}; {args.images} JPEGs {width}x{height} q90", flush=True)
    with tempfile.TemporaryDirectory(prefix="imagefolder-bench-") as tmp:
        root = write_jpegs(Path(tmp) / "data", args.images, width, height)
        our_pass = ours(root, Path(tmp))
        tv_pass = torchvision_imagefolder(root, [0.5] * 3, [0.25] * 3)
        tv = best_rate(tv_pass, args.repeats)
        us = best_rate(our_pass, args.repeats)
    label = "" if (width, height) == (500, 375) else f"_{width}x{height}"
    result(f"imagefolder_ours_images_per_s_per_core{label}", round(us, 1), "images/s")
    result(f"imagefolder_torchvision_images_per_s_per_core{label}", round(tv, 1), "images/s")
    result(f"imagefolder_speedup{label}", round(us / tv, 2), "x")


if __name__ == "__main__":
    main()
