"""Shared fixtures: a synthetic Fashion-MNIST-format dataset and a snakemake runner."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")


def copy_repository(dest: Path) -> Path:
    """Copy the repository's files (tracked, and new ones git does not ignore) into `dest`."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (REPO / name).is_file():  # a deleted file is still listed until it is committed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


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


def snakemake(workdir: Path, *args: str, config: dict | None = None, timeout: float = 900):
    """Run the real `snakemake` command on the repo's Snakefile in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    if config is not None:
        configfile = workdir / "test-config.yaml"
        configfile.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(configfile)]
    # The rules run `python -m transferability`: this interpreter's python comes first.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
