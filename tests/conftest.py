"""Shared fixtures: a synthetic Fashion-MNIST-format dataset and a snakemake runner."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")

# One copy of the scratch-run helpers, shared with the benchmarks.
sys.path.insert(0, str(REPO / "benchmarks"))
from _snakemake_run import TINY, copy_repository, venv_env  # noqa: E402, F401


def write_idx(path: Path, array, compress: bool = True) -> None:
    """An IDX file of unsigned bytes, in the format Zalando publishes Fashion-MNIST in."""
    import numpy as np

    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = b"\0\0\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def make_fake_fashion_mnist(root: Path, train_per_class: int = 30, test_per_class: int = 10):
    """Ten classes of 28x28 images a small net can tell apart (a bright block per class)."""
    import numpy as np

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for part, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = np.repeat(np.arange(10), per_class)
        images = rng.integers(0, 60, size=(len(labels), 28, 28))
        for i, c in enumerate(labels):
            row, col = divmod(int(c), 5)
            images[i, 4 + 10 * row : 12 + 10 * row, 2 + 5 * col : 6 + 5 * col] += 180
        write_idx(root / f"{part}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{part}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def fake_fashion_mnist(tmp_path_factory) -> Path:
    return make_fake_fashion_mnist(tmp_path_factory.mktemp("fake-fashion-mnist"))


@pytest.fixture(scope="session")
def fake_cache(tmp_path_factory, fake_fashion_mnist) -> Path:
    from transferability.datasets import build_cache

    out = tmp_path_factory.mktemp("cache") / "fashion_mnist.pt"
    build_cache("fashion_mnist", fake_fashion_mnist, False, "unused", out)
    return out


def tiny_config() -> dict:
    """The default config with a few images per class and one base epoch."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["subset"] |= {"train_per_class": 20, "val_per_class": 5, "test_per_class": None}
    config["training"]["base"]["epochs"] = 1
    return config


@pytest.fixture
def split_file(fake_cache, tmp_path) -> Path:
    """The split random0 of the fake data under tiny_config()."""
    from transferability import grid
    from transferability.cli import main

    out = tmp_path / "splits" / "random0.json"
    settings = json.dumps(grid.split_settings(tiny_config(), "random0"))
    argv = ["make-split", "--cache", str(fake_cache), "--split", "random0", "--settings", settings]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def snakemake(workdir: Path, *args: str, config: dict | None = None, timeout: float = 900):
    """Run the real `snakemake` command on the repo's Snakefile in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    if config is not None:
        configfile = workdir / "test-config.yaml"
        configfile.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(configfile)]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=venv_env(), timeout=timeout, check=False
    )
