"""The full-scale configs (config/cifar100.yaml, config/imagenet.yaml) on tiny datasets in
the real on-disk formats: the data readers, the dissimilar splits, the workflow's dry run
over the whole grid, and one real tiny training through snakemake."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from transferability import grid
from transferability.analysis.stats import t_interval
from transferability.data import cifar, imagefolder, sources, splits, wordnet
from transferability.errors import ConfigError, DataError

from .fullscale import WNIDS, WORDNET_ROOT, write_cifar100, write_imagefolder
from .support import REPO, snakemake

TINY_NET = {"widths": [4, 4, 4, 4, 4, 8, 8]}
TINY_RECIPE = {"epochs": 1, "batch_size": 16}
TINY_RESOURCES = {"train": {"threads": 1, "mem_mb": 1000, "runtime": 10}}


def merged(path: str, overrides: dict) -> dict:
    """A full-scale config with tiny overrides (nested dicts merged, lists replaced)."""

    def merge(base, over):
        return {
            **base,
            **{
                k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                for k, v in over.items()
            },
        }

    return merge(yaml.safe_load((REPO / path).read_text()), overrides)


def needs_wordnet():
    if not (WORDNET_ROOT / "data.noun").is_file():
        pytest.fail("install Debian's wordnet-base first (make data)")


# ------------------------------------------------------------------------------------
# WordNet


@pytest.mark.parametrize("wnid", sorted(WNIDS))
def test_wordnet_lemma_and_man_made_rule_for_real_wnids(wnid):
    needs_wordnet()
    name, man_made = WNIDS[wnid]
    assert wordnet.lemma(wnid, WORDNET_ROOT) == name
    assert wordnet.has_hypernym(wnid, wordnet.ARTIFACT, WORDNET_ROOT) is man_made


def test_artifact_offset_is_artifact_n_01_in_the_installed_files():
    needs_wordnet()
    assert wordnet.lemma(f"n{wordnet.ARTIFACT}", WORDNET_ROOT) == "artifact"
    index = (WORDNET_ROOT / "index.noun").read_text().splitlines()
    (line,) = [x for x in index if x.startswith("artifact n ")]
    assert line.split()[-1] == wordnet.ARTIFACT  # its first (most frequent) sense


def test_wordnet_rejects_a_non_wnid_and_a_missing_database(tmp_path):
    with pytest.raises(DataError, match="not an ImageNet wnid"):
        wordnet.offset_of("kit_fox")
    with pytest.raises(ConfigError, match="wordnet-base"):
        wordnet.data_file(tmp_path)


# ------------------------------------------------------------------------------------
# CIFAR-100


def test_cifar_superclasses_partition_the_100_classes():
    members = [c for group in cifar.SUPERCLASSES.values() for c in group]
    assert sorted(members) == sorted(cifar.CLASSES) and len(set(members)) == 100


def test_cifar100_dissimilar_split_is_man_made_vs_natural_superclasses():
    config = merged("config/cifar100.yaml", {})
    names = cifar.CLASSES
    groups = sources.expand_groups(config["dataset"], names, config["splits"]["dissimilar"])
    halves = splits.resolve_groups(names, groups)
    assert (len(halves["A"]), len(halves["B"])) == (30, 70)
    assert {"bus", "bottle", "bridge"} <= set(groups["A"])
    assert {"whale", "oak_tree", "baby"} <= set(groups["B"])


def test_cifar100_cache_from_pickles(tmp_path):
    write_cifar100(tmp_path / "cifar")
    out = tmp_path / "cifar100.pt"
    sources.prepare(
        {"name": "cifar100", "root": str(tmp_path / "cifar"), "download": False,
         "download_root": "unused"},
        out,
    )  # fmt: skip
    cache = torch.load(out, weights_only=True)
    assert cache["train_x"].shape == (400, 3, 32, 32) and cache["train_x"].dtype == torch.uint8
    assert cache["test_y"].tolist()[:2] == [0, 0] and cache["classes"][1] == "aquarium_fish"
    assert len(cache["mean"]) == 3


def test_cifar100_corrupt_pickle_names_the_file(tmp_path):
    root = write_cifar100(tmp_path / "cifar")
    (root / cifar.FOLDER / "test").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="test: cannot read the CIFAR-100 pickle"):
        cifar.build_cache(root, False, "unused", tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


# ------------------------------------------------------------------------------------
# ImageFolder


def test_imagefolder_index_and_streamed_batches(tmp_path):
    root = write_imagefolder(tmp_path / "inet")
    out = tmp_path / "index.pt"
    imagefolder.build_index(root, resize=40, crop=32, stats_images=8, out=out)
    index = torch.load(out, weights_only=True)
    assert index["classes"] == sorted(WNIDS)
    assert len(index["train_files"]) == 32 and len(index["test_files"]) == 16
    half = {"train_idx": list(range(8)), "val_idx": [8], "test_idx": [0, 1]}
    relabel = torch.arange(len(WNIDS))
    parts = imagefolder.load_half(index, half, relabel, workers=0)
    stream, labels = parts["train"]
    torch.manual_seed(0)
    (pos, x), *_ = list(stream.batches(torch.arange(8), 8))
    assert x.shape == (8, 3, 32, 32) and pos == list(range(8))
    torch.manual_seed(0)
    (_, again), *_ = list(stream.batches(torch.arange(8), 8))
    assert torch.equal(x, again), "same seed, same random crops"
    (test_x,) = list(parts["test"][0].split(100))
    assert test_x.shape == (2, 3, 32, 32)


def test_imagefolder_missing_val_class_is_named(tmp_path):
    root = write_imagefolder(tmp_path / "inet")
    for f in (root / "val" / "n04086273").iterdir():
        f.unlink()
    (root / "val" / "n04086273").rmdir()
    with pytest.raises(DataError, match="val/n04086273: missing"):
        imagefolder.build_index(root, 40, 32, 8, tmp_path / "index.pt")


# ------------------------------------------------------------------------------------
# Through snakemake: the whole grid's dry run, then one real tiny cell


def cifar_config(root) -> dict:
    return merged(
        "config/cifar100.yaml",
        {
            "dataset": {"root": str(root)},
            "subset": {"train_per_class": 3, "val_per_class": 1, "test_per_class": 2},
            "model": TINY_NET,
            "training": {"base": TINY_RECIPE},
            "resources": TINY_RESOURCES,
        },
    )


def imagenet_config(root) -> dict:
    return merged(
        "config/imagenet.yaml",
        {
            "dataset": {"root": str(root), "resize": 240, "stats_images": 8},
            "subset": {"val_per_class": 1},
            "splits": {"random": 1},
            "model": TINY_NET,
            "training": {"base": TINY_RECIPE},
            "resources": TINY_RESOURCES,
        },
    )


def dry_run_jobs(tmp_path, config) -> dict[str, int]:
    """Job counts per rule from snakemake's dry-run "Job stats" table."""
    result = snakemake(tmp_path, "--dry-run", config=config, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = {}
    for line in result.stdout.split("Job stats:")[1].splitlines()[3:]:
        if not line.strip():
            break
        rule, count = line.split()
        counts[rule] = int(count)
    return counts


def expected_jobs(config: dict) -> dict[str, int]:
    resolved = merged("config/config.yaml", config)
    return {
        "make_split": len(grid.split_names(resolved)),
        "train_base": len(grid.bases(resolved)),
        "train_cell": len(grid.cells(resolved)),
    }


@pytest.mark.workflow
def test_cifar100_config_dry_run_plans_the_whole_grid(tmp_path):
    config = cifar_config(write_cifar100(tmp_path / "cifar"))
    counts = dry_run_jobs(tmp_path / "run", config)
    # 4 random splits x 2 targets x 5 treatments x 7 n; the dissimilar split: 3 seeds x 2
    # targets x AnB x 7 n (as in the paper, with seeds for an interval).
    assert expected_jobs(config) == {"make_split": 5, "train_base": 14, "train_cell": 322}
    assert counts | expected_jobs(config) == counts


@pytest.mark.workflow
def test_cifar100_config_trains_one_tiny_cell(tmp_path):
    config = cifar_config(write_cifar100(tmp_path / "cifar"))
    target = "results/cells/dissimilar/A/transfer/n1/seed0/metrics.json"
    result = snakemake(tmp_path / "run", "--cores", "1", target, config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    split = json.loads((tmp_path / "run/results/splits/dissimilar.json").read_text())
    assert len(split["halves"]["A"]["classes"]) == 30  # man-made superclasses
    metrics = json.loads((tmp_path / "run" / target).read_text())
    assert metrics["source"] == "B" and metrics["chance"] == pytest.approx(1 / 30)
    assert 0 <= metrics["top1"] <= 1 and metrics["epochs"] == 1


@pytest.mark.workflow
def test_imagenet_config_dry_run_plans_the_whole_grid(tmp_path):
    needs_wordnet()
    config = imagenet_config(write_imagefolder(tmp_path / "inet"))
    counts = dry_run_jobs(tmp_path / "run", config)
    # random0: 2 bases, 70 cells; dissimilar: 3 seeds x 2 bases, 3 x 2 x 7 AnB cells.
    assert expected_jobs(config) == {"make_split": 2, "train_base": 8, "train_cell": 112}
    assert counts | expected_jobs(config) == counts


@pytest.mark.workflow
def test_imagenet_config_trains_one_tiny_cell_on_streamed_jpegs(tmp_path):
    needs_wordnet()
    config = imagenet_config(write_imagefolder(tmp_path / "inet"))
    target = "results/cells/dissimilar/B/transfer_ft/n7/seed0/metrics.json"
    result = snakemake(tmp_path / "run", "--cores", "1", target, config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    split = json.loads((tmp_path / "run/results/splits/dissimilar.json").read_text())
    # The authors' lists: natural is their half A, man-made their half B.
    man_made = sorted(w for w, (_, is_man_made) in WNIDS.items() if is_man_made)
    assert split["halves"]["B"]["classes"] == man_made
    metrics = json.loads((tmp_path / "run" / target).read_text())
    assert metrics["settings"]["model"]["layout"] == "alexnet227"
    assert 0 <= metrics["top1"] <= 1 and metrics["epochs"] == 1


def test_man_made_count_script_prints_results_for_a_wnid_list(tmp_path):
    import subprocess
    import sys

    needs_wordnet()
    wnids = tmp_path / "wnids.txt"
    wnids.write_text("\n".join(WNIDS) + "\n")
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/imagenet_man_made.py"), "--wnids", str(wnids)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    man_made = sum(is_man_made for _, is_man_made in WNIDS.values())
    assert f"RESULT imagenet_list_man_made {man_made} classes" in out
    assert f"RESULT imagenet_list_natural {len(WNIDS) - man_made} classes" in out


def test_alexnet227_is_the_papers_eight_layer_net_on_227_px_crops():
    from transferability.training import models

    net = models.TransferNet("alexnet227", num_classes=500, in_channels=3)
    assert len(net.weight_layers()) == 8
    widths = [layer.weight.shape[0] for layer in net.weight_layers()]
    assert widths == [96, 256, 384, 384, 256, 4096, 4096, 500]
    assert net.stages[5].weight.in_features == 256 * 6 * 6  # conv5 pooled to 6x6
    small = models.TransferNet("alexnet227", 3, in_channels=3, widths=TINY_NET["widths"])
    assert small(torch.zeros(2, 3, 227, 227)).shape == (2, 3)


MISSING_DATA = [
    ("config/cifar100.yaml", "/no/such/cifar", "dataset.root: no CIFAR-100"),
    ("config/imagenet.yaml", "/no/such/inet", "dataset.root: '/no/such/inet' does not exist"),
]


def fails_at_start(tmp_path, config: dict) -> str:
    result = snakemake(tmp_path, "--dry-run", config=config, timeout=120)
    assert result.returncode != 0
    assert not (tmp_path / "results").exists()
    return result.stdout + result.stderr


@pytest.mark.badinput
@pytest.mark.parametrize(("config_path", "root", "message"), MISSING_DATA)
def test_full_scale_config_without_its_data_fails_at_start(tmp_path, config_path, root, message):
    assert message in fails_at_start(tmp_path, merged(config_path, {"dataset": {"root": root}}))


@pytest.mark.badinput
def test_cifar100_unknown_superclass_is_named(tmp_path):
    config = cifar_config(write_cifar100(tmp_path / "cifar", 1, 1))
    config["splits"]["dissimilar"]["A"] = ["vehicles_3"]
    out = fails_at_start(tmp_path / "run", config)
    assert "splits.dissimilar.A: unknown class name 'vehicles_3'" in out


@pytest.mark.badinput
def test_imagenet_without_wordnet_names_the_key_and_the_package(tmp_path):
    root = write_imagefolder(tmp_path / "inet", train_per_class=1, val_per_class=1)
    config = imagenet_config(root)
    config["splits"]["dissimilar"] |= {"A": ["rest"], "B": ["wordnet:n00021939"]}  # the option
    config["dataset"]["wordnet_root"] = str(tmp_path / "no-wordnet")
    result = snakemake(tmp_path / "run", "--dry-run", config=config, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "dataset.wordnet_root" in out and "wordnet-base" in out


def test_replicates_multiply_the_nets_and_each_cell_copies_from_its_own_seed():
    config = merged("config/config.yaml", merged("config/cifar100.yaml", {"seeds": [0, 1, 2]}))
    bases, cells = grid.bases(config), grid.cells(config)
    assert len(bases) == 5 * 2 * 3 and len(cells) == 4 * 2 * 5 * 7 * 3 + 2 * 7 * 3
    base_keys = {(b.split, b.half, b.seed) for b in bases}
    for cell in cells:
        source = grid.source_half(cell.treatment, cell.target)
        assert source == "none" or (cell.split, source, cell.seed) in base_keys


def test_mean_lines_get_95_percent_interval_bars_only_from_three_units():
    import matplotlib.pyplot as plt

    from transferability.analysis import plotting
    from transferability.analysis.nets import pair_with_base

    from .synthetic import make_table

    table = make_table(splits=["random0"], seeds=range(3), ns=[1, 2])  # 3 (split, seed) units
    anb = pair_with_base(table).query("treatment == 'transfer'")
    fig, ax = plt.subplots()
    plotting.interval_bars(ax, anb, "red")
    assert len(ax.lines) == 2  # one bar per n
    low, high = ax.lines[0].get_ydata()
    assert low <= anb[anb["n"] == 1]["top1"].mean() <= high
    # The bar is the interval of the difference to the base, not of the levels.
    diffs = (anb["top1"] - anb["base_top1"])[anb["n"] == 1].groupby(anb["seed"]).mean()
    assert high - low == pytest.approx(np.diff(t_interval(diffs.to_numpy()))[0])
    ax.clear()
    plotting.interval_bars(ax, anb[anb["seed"] < 2], "red")  # 2 units: no interval
    assert len(ax.lines) == 0
    plt.close(fig)


def test_man_made_count_script_offline_default_is_imagenette():
    import subprocess
    import sys

    needs_wordnet()
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/imagenet_man_made.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "RESULT imagenet_imagenette_classes 10 classes" in out
    assert "RESULT imagenet_imagenette_man_made 8 classes" in out
    assert "n01440764 tench: natural" in out
