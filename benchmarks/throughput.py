"""Per-cell training speed of the pipeline versus a plain PyTorch loop, side by side.

The baseline is written the way a user would write it (after torchvision's FashionMNIST
and the PyTorch ImageNet example): a Dataset that turns each image into a PIL image and
applies ToTensor + Normalize, a DataLoader, NCHW tensors, torch.optim.SGD, and frozen
layers with requires_grad=False that still run forward on every step. The pipeline is
`transferability.training.solver.train` as the workflow calls it (whole-dataset tensors,
channels_last, frozen prefix computed once). Both train the same net from the same
initial weights with the same recipe (the config's), on the same images of one half, in
one process, alternating, so machine load hits both alike.

Measured per cell: the CPU time of training including the per-epoch validation and the
final test evaluation (what a cell costs after start-up; CPU time because the machine may
be shared, see timed()), images per second from it, and top-1 on the test images. Also
the FLOP/s achieved by a full-training cell (its steps and evaluations) beside this
machine's fp32 (and bf16) matmul rate at the same thread count. Prints
`RESULT <name> <value> <unit>` lines; ratios have unit `x`.

    .venv/bin/python benchmarks/throughput.py            # a few minutes
    .venv/bin/python benchmarks/throughput.py --smoke    # seconds; checks it runs
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from transferability import grid  # noqa: E402
from transferability.data import splits  # noqa: E402
from transferability.data.cache import load_cache  # noqa: E402
from transferability.data.fashion_mnist import build_cache, class_names  # noqa: E402
from transferability.data.halves import load_half  # noqa: E402
from transferability.training import models  # noqa: E402
from transferability.training.sgd import Recipe  # noqa: E402
from transferability.training.solver import derived_seed, train  # noqa: E402


def result(name: str, value: float, unit: str, fmt: str = ".4g") -> None:
    print(f"RESULT {name} {value:{fmt}} {unit}", flush=True)


# ---------------------------------------------------------------- the plain baseline


class HalfImages(Dataset):
    """One half's images as a user's Dataset: PIL image per sample, then the transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        image = Image.fromarray(self.images[i].numpy(), mode="L")
        return self.transform(image), int(self.labels[i])


def baseline_datasets(cache_path: Path, half: dict) -> dict[str, HalfImages]:
    from torchvision import transforms

    cache = load_cache(cache_path)
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((cache["mean"],), (cache["std"],))]
    )
    relabel = {c: i for i, c in enumerate(half["class_indices"])}
    out = {}
    for part, source in (("train", "train"), ("val", "train"), ("test", "test")):
        idx = torch.tensor(half[f"{part}_idx"], dtype=torch.int64)
        labels = torch.tensor([relabel[int(c)] for c in cache[f"{source}_y"][idx]])
        out[part] = HalfImages(cache[f"{source}_x"][idx], labels, transform)
    return out


def plain_net(net: models.TransferNet) -> nn.Sequential:
    """The same layers and weights as a user writes the net: conv, ReLU, max-pool, ..."""
    layers = []
    for i, stage in enumerate(net.stages):
        weight = copy.deepcopy(stage.weight)
        if isinstance(weight, nn.Conv2d):
            pools = [
                nn.MaxPool2d(m.kernel_size, m.stride)
                for m in stage.tail
                if isinstance(m, nn.MaxPool2d)
            ]
            layers += [weight, nn.ReLU(inplace=True), *pools]
        else:
            if i == models.FIRST_FC:
                layers.append(nn.Flatten())
            layers.append(weight)
            if i < models.NUM_LAYERS - 1:
                layers += [nn.ReLU(inplace=True), nn.Dropout(models.DROPOUT_P)]
    return nn.Sequential(*layers)


def baseline_accuracy(net, loader) -> float:
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += int((net(x).argmax(1) == y).sum())
            total += len(y)
    return correct / total


def baseline_train(start, datasets, recipe: Recipe, n_frozen: int, seed: int) -> float:
    """The loop a user writes; returns top-1 on the test images of the best-val epoch."""
    torch.manual_seed(seed)
    net = plain_net(start)
    weight_layers = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)]
    for layer in weight_layers[:n_frozen]:
        for p in layer.parameters():
            p.requires_grad = False
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    train_loader = DataLoader(datasets["train"], batch_size=recipe.batch_size, shuffle=True)
    val_loader = DataLoader(datasets["val"], batch_size=1000)
    test_loader = DataLoader(datasets["test"], batch_size=1000)
    total = recipe.epochs * len(train_loader)
    best_val, best_state, step = -1.0, None, 0
    for _ in range(recipe.epochs):
        net.train()
        for x, y in train_loader:
            for group in optimizer.param_groups:
                group["lr"] = recipe.lr_at(step, total)
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            if recipe.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, recipe.clip_grad_norm)
            optimizer.step()
            step += 1
        val = baseline_accuracy(net, val_loader)
        if val > best_val:
            best_val, best_state = val, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return baseline_accuracy(net, test_loader)


# ---------------------------------------------------------------- FLOPs and the machine


def flops_per_image(net: models.TransferNet, batch: int) -> tuple[float, float]:
    """FLOPs per image of a full training step (forward + backward) and of a forward pass."""
    from torch.utils.flop_counter import FlopCounterMode

    net = copy.deepcopy(net).train()
    x = torch.randn(batch, 1, 28, 28)
    train_counter, eval_counter = FlopCounterMode(display=False), FlopCounterMode(display=False)
    with train_counter:
        F.cross_entropy(net(x), torch.zeros(batch, dtype=torch.int64)).backward()
    with eval_counter, torch.no_grad():
        net(x)
    return train_counter.get_total_flops() / batch, eval_counter.get_total_flops() / batch


def matmul_flops(dtype: torch.dtype, size: int = 1024, seconds: float = 1.0) -> float:
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(3):
        a @ b
    runs, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        a @ b
        runs += 1
    return 2 * size**3 * runs / elapsed


def step_rate(net: nn.Module, channels_last: bool, bf16: bool, batch: int, steps: int) -> float:
    """Images per CPU second of bare training steps (forward, backward, SGD) on random data."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = copy.deepcopy(net).to(memory_format=fmt).train()
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=fmt)
    y = torch.zeros(batch, dtype=torch.int64)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)

    def step():
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    started = time.process_time()
    for _ in range(steps):
        step()
    return batch * steps / (time.process_time() - started)


def step_ablation(net: models.TransferNet, batch: int, steps: int) -> None:
    """What each means buys on the bare step: memory format, pool-before-ReLU, bf16."""
    plain = plain_net(net)
    for name, model, channels_last, bf16 in (
        ("nchw_relu_pool_fp32", plain, False, False),
        ("channels_last_relu_pool_fp32", plain, True, False),
        ("channels_last_pool_relu_fp32", net, True, False),
        ("channels_last_relu_pool_bf16", plain, True, True),
        ("channels_last_pool_relu_bf16", net, True, True),
    ):
        rate = step_rate(model, channels_last, bf16, batch, steps)
        result(f"step_img_per_s_{name}", rate, "img/s", ".0f")


# ---------------------------------------------------------------- the comparison


def make_split_file(config: dict, cache: Path, out: Path, per_class, val_per_class, test_per_class):
    names = class_names(config["dataset"]["name"])
    labels = load_cache(cache)
    settings = grid.split_settings(config, "random0") | {
        "train_per_class": per_class,
        "val_per_class": val_per_class,
        "test_per_class": test_per_class,
    }
    record = splits.split_from_settings("random0", settings, names, labels)
    splits.write_split(record, out)
    return record


def timed(func, *args, **kwargs):
    """The value and the CPU seconds of this process (all its threads) spent computing it.

    CPU time, not wall time: on a shared machine other processes stretch the wall time
    of whichever variant they happen to overlap, while a variant's CPU time stays its own.
    """
    started, wall = time.process_time(), time.perf_counter()
    value = func(*args, **kwargs)
    seconds, wall = time.process_time() - started, time.perf_counter() - wall
    print(f"  ({func.__name__}: {seconds:.2f} s CPU, {wall:.2f} s wall)", flush=True)
    return value, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch threads (a workflow job's: 1)")
    p.add_argument("--epochs", type=int, help="override the config's training.base.epochs")
    p.add_argument("--frozen-n", type=int, nargs="+", default=[5, 6, 7])
    p.add_argument("--repeats", type=int, default=2, help="time each run N times, keep the least")
    p.add_argument("--data-root", help="folder of the IDX files (default: the config's)")
    p.add_argument("--smoke", "--quick", action="store_true", help="tiny sizes: checks it runs")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    recipe = Recipe.from_config(grid.recipe(config, "base"))
    sub = config["subset"]
    sizes = (sub["train_per_class"], sub["val_per_class"], sub["test_per_class"])
    if args.smoke:
        sizes, recipe = (20, 5, 10), Recipe(**{**recipe.__dict__, "epochs": 1})
        args.repeats = 1
    if args.epochs:
        recipe = Recipe(**{**recipe.__dict__, "epochs": args.epochs})

    print(f"device cpu ({platform.processor() or platform.machine()}), {args.threads} thread(s)")
    result("device_is_cuda", 0, "bool")
    with tempfile.TemporaryDirectory() as tmp:
        cache, split_file = Path(tmp) / "cache.pt", Path(tmp) / "split.json"
        d = config["dataset"]
        build_cache(d["name"], args.data_root or d["root"], False, d["download_root"], cache)
        record = make_split_file(config, cache, split_file, *sizes)
        half = record["halves"]["B"]
        data = load_half(cache, half)
        plain = baseline_datasets(cache, half)
        num_classes = len(half["class_indices"])
        n_train = len(half["train_idx"])
        print(f"half B of random0: {n_train} training images, {recipe.epochs} epochs")

        seed = derived_seed("throughput", "base")
        torch.manual_seed(seed)
        initial = models.TransferNet("small28", num_classes)
        step_flops, forward_flops = flops_per_image(initial, recipe.batch_size)
        n_eval = recipe.epochs * len(half["val_idx"]) + len(half["test_idx"])
        # Everything a full-training cell computes: its steps and its evaluations.
        cell_flops = step_flops * n_train * recipe.epochs + forward_flops * n_eval

        # Full training: the base net (fine-tuned cells cost the same). The pipeline in
        # both precisions (training.*.precision); the plain loop is fp32 as users write it.
        variants = tuple(
            (f"ours_{precision}", Recipe(**{**recipe.__dict__, "precision": precision}))
            for precision in ("fp32", "bf16")
        )
        print(f"the config's training.base.precision: {recipe.precision}")
        plain_top1, plain_s = best_of(args.repeats, baseline_train, initial, plain, recipe, 0, seed)
        trained = {}
        for name, r in variants:
            (outcome, trained[name]), ours_s = best_of(
                args.repeats, run_ours, initial, data, r, 0, seed
            )
            report(name, "full", n_train * r.epochs, ours_s, plain_s, outcome.top1, plain_top1)
            achieved = cell_flops / ours_s
            result(f"{name}_full_train_gflops", achieved / 1e9, "GFLOP/s", ".1f")
            if name == "ours_fp32":
                fp32_achieved = achieved
        result("train_step_mflop_per_image", step_flops / 1e6, "MFLOP", ".2f")

        # Frozen cells (BnB): the first n layers of the fp32 base net, frozen.
        for n in args.frozen_n:
            cell_seed = derived_seed("throughput", "selffer", n)
            torch.manual_seed(cell_seed)
            start = models.TransferNet("small28", num_classes)
            models.transplant(start, trained["ours_fp32"].state_dict(), n)
            plain_top1, plain_s = best_of(
                args.repeats, baseline_train, start, plain, recipe, n, cell_seed
            )
            for name, r in variants:
                (outcome, _), ours_s = best_of(args.repeats, run_ours, start, data, r, n, cell_seed)
                kind = f"frozen_n{n}"
                report(name, kind, n_train * r.epochs, ours_s, plain_s, outcome.top1, plain_top1)

        step_ablation(initial, recipe.batch_size, steps=3 if args.smoke else 60)
        fp32 = matmul_flops(torch.float32, seconds=0.2 if args.smoke else 1.0)
        bf16 = matmul_flops(torch.bfloat16, seconds=0.2 if args.smoke else 1.0)
        result("matmul_fp32_gflops", fp32 / 1e9, "GFLOP/s", ".1f")
        result("matmul_bf16_gflops", bf16 / 1e9, "GFLOP/s", ".1f")
        result("ours_fp32_full_train_fraction_of_fp32_matmul", fp32_achieved / fp32, "x", ".2f")


def _quiet(*_args) -> None:
    pass


def run_ours(start: models.TransferNet, data, recipe: Recipe, n_frozen: int, seed: int):
    """The pipeline's training of a copy of `start`, as training/jobs.py calls it."""
    net = copy.deepcopy(start).to(memory_format=torch.channels_last)
    outcome, _ = train(net, data, recipe, n_frozen, seed, log=_quiet)
    return outcome, net


def best_of(repeats: int, func, *args):
    """The first run's value and the least CPU time of `repeats` runs (all deterministic)."""
    value, seconds = timed(func, *args)
    for _ in range(repeats - 1):
        seconds = min(seconds, timed(func, *args)[1])
    return value, seconds


def report(name, kind, images, ours_s, plain_s, ours_top1, plain_top1) -> None:
    result(f"{name}_{kind}_cpu_seconds", ours_s, "s", ".2f")
    result(f"{name}_{kind}_img_per_s", images / ours_s, "img/s", ".0f")
    result(f"{name}_{kind}_top1", ours_top1, "fraction", ".4f")
    if name == "ours_fp32":
        result(f"plain_{kind}_cpu_seconds", plain_s, "s", ".2f")
        result(f"plain_{kind}_img_per_s", images / plain_s, "img/s", ".0f")
        result(f"plain_{kind}_top1", plain_top1, "fraction", ".4f")
    result(f"speedup_{kind}" + name.removeprefix("ours"), plain_s / ours_s, "x", ".2f")


if __name__ == "__main__":
    main()
