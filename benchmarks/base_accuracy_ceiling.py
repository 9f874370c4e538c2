"""How far the default's small data budget leaves the base nets below the same net
trained on all of Fashion-MNIST's training images of a half.

Trains the default config's base net on each half of the dissimilar split twice: with the
default subset (subset.train_per_class images per class, training.base epochs) and with
every training image (all but the validation images) for --full-epochs epochs. Prints
`RESULT <name> <value> <unit>` lines. Takes a few minutes on 2 cores.

    .venv/bin/python benchmarks/base_accuracy_ceiling.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
import yaml

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


def base_top1(cache, split_file, half, recipe, seed=0) -> float:
    data = load_half(cache, splits.read_split(split_file)["halves"][half])
    torch.manual_seed(derived_seed("ceiling", half, seed))
    net = models.TransferNet("small28", 5).to(memory_format=torch.channels_last)
    outcome, _ = train(net, data, recipe, 0, derived_seed("ceiling", half, seed), log=lambda *_: 0)
    return outcome.top1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--full-epochs", type=int, default=15)
    p.add_argument("--data-root", help="folder of the IDX files (default: the config's)")
    p.add_argument(
        "--smoke",
        "--quick",
        action="store_true",
        help="tiny sizes: checks the script runs, measures nothing",
    )
    args = p.parse_args()
    torch.set_num_threads(2)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.pt"
        d = config["dataset"]
        root = args.data_root or d["root"]
        build_cache(d["name"], root, d["download"], d["download_root"], cache)
        labels = load_cache(cache)
        names = class_names(d["name"])
        halves = splits.resolve_groups(names, config["splits"]["dissimilar"])
        recipe = Recipe.from_config(grid.recipe(config, "base"))
        budgets = [
            ("subset", config["subset"]["train_per_class"], recipe.epochs),
            ("all", None, args.full_epochs),
        ]
        val_per_class = config["subset"]["val_per_class"]
        if args.smoke:
            budgets, val_per_class = [("subset", 10, 1), ("all", None, 1)], 5
        for label, per_class, epochs in budgets:
            split_file = Path(tmp) / f"{label}.json"
            settings = {
                "kind": "dissimilar",
                "train_per_class": per_class,
                "val_per_class": val_per_class,
                "test_per_class": None,
                "subset_seed": config["subset"]["seed"],
            }
            record = splits.split_from_settings("dissimilar", settings, names, labels, halves)
            splits.write_split(record, split_file)
            r = Recipe(**{**recipe.__dict__, "epochs": epochs})
            for half in splits.HALVES:
                top1 = base_top1(cache, split_file, half, r)
                print(f"RESULT base_top1_dissimilar_{half}_{label}_images {top1:.4f} fraction")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
