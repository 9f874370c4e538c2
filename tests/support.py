"""What the test modules share: no test module imports another, they import from here
(fixtures are in conftest.py).

Snakemake runs only through benchmarks/_snakemake_run.py (on pytest's pythonpath, see
pyproject.toml), the one runner the tests and the benchmarks share: `snakemake()` runs and
waits, `start_snakemake()` launches in the background.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import yaml
from _snakemake_run import TINY, copy_repository, snakemake, venv_env
from _snakemake_run import start as start_snakemake

from transferability import grid

__all__ = [
    "ANNOUNCED",
    "FASHION_MNIST_ROOT",
    "REPO",
    "RESULT",
    "TINY",
    "WIDTHS",
    "children",
    "copy_repository",
    "expected_nets",
    "job_env",
    "make_fake_fashion_mnist",
    "net",
    "resolved",
    "rules",
    "run_job",
    "run_script",
    "snakemake",
    "start_job",
    "start_snakemake",
    "tiny_config",
    "tiny_data",
    "train_base_argv",
    "venv_env",
    "write_idx",
]

REPO = Path(__file__).resolve().parents[1]
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")


# ------------------------------------------------------------------------------------
# Data and configs


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


# The whole-workflow tests' grid: one random split (random0), both ends of n, one seed. The
# cells' epochs are set on their own, so a change of the base recipe reaches the cells only
# through the base nets.
TINY_GRID = {
    "subset": {"train_per_class": 30, "val_per_class": 10, "test_per_class": 20},
    "splits": {"random": 1, "dissimilar": {"enabled": False}},
    "layers": [1, 7],
    "seeds": [0],
    "training": {"base": {"epochs": 1}, "cell": {"epochs": 1}},
}


def tiny_config() -> dict:
    """The default config with a few images per class and one base epoch. A batch of a
    half's 100 images: the default's 128 is refused at start (larger than the training
    set), and one step of all 100 images is what 128 gave."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["subset"] |= {"train_per_class": 20, "val_per_class": 5, "test_per_class": None}
    config["training"]["base"] |= {"epochs": 1, "batch_size": 100}
    return config


def resolved(overrides: dict) -> dict:
    """The config snakemake sees: the default with the overrides merged in."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for key, value in overrides.items():
        if isinstance(value, dict):
            config[key] = config[key] | {
                k: (config[key].get(k, {}) | v if isinstance(v, dict) else v)
                for k, v in value.items()
            }
        else:
            config[key] = value
    return config


def expected_nets(config: dict) -> set[tuple]:
    """(split, target, treatment, n, seed) of every net a run of `config` trains."""
    bases = {(b.split, b.half, "base", 0, b.seed) for b in grid.bases(config)}
    cells = {(c.split, c.target, c.treatment, c.n, c.seed) for c in grid.cells(config)}
    return bases | cells


# ------------------------------------------------------------------------------------
# The workflow's rule files and the benchmark scripts


def rules() -> dict[str, str]:
    """Rule name -> the text of its block, from every rule file."""
    found = {}
    for path in sorted((REPO / "workflow/rules").glob("*.smk")):
        blocks = re.split(r"^rule (\w+):\n", path.read_text(), flags=re.MULTILINE)
        found |= dict(zip(blocks[1::2], blocks[2::2], strict=True))
    return found


RESULT = re.compile(r"^RESULT (\S+) (\S+) (\S+)$")


def run_script(name: str, *args: str, timeout: float = 300) -> dict[str, str]:
    """Run benchmarks/<name> and return its RESULT lines as {name: (value, unit)}."""
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    ).stdout
    return {m[1]: (m[2], m[3]) for m in map(RESULT.match, out.splitlines()) if m}


def claim_rows(claims_md: str, section: str) -> list[str]:
    """The claim named in each row of the table under `## <section>` of a claims.md, in
    order (a row names its claim in backticks in its first cell)."""
    body = claims_md.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [line.split("`")[1] for line in body.splitlines() if line.startswith("| `")]


# ------------------------------------------------------------------------------------
# Small nets and data for the training tests

WIDTHS = (4, 8, 8, 8, 8, 16, 16)


def net(seed: int, widths=WIDTHS, classes: int = 5):
    import torch

    from transferability.training import models

    torch.manual_seed(seed)
    return models.TransferNet("small28", classes, widths=widths)


def tiny_data(seed: int = 0, n: int = 64):
    import torch

    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 5
    x = torch.randn(n, 1, 28, 28, generator=g) + y.view(-1, 1, 1, 1).float()
    return {part: (x, y) for part in ("train", "val", "test")}


def __getattr__(name: str):
    """RECIPE, a short solver for the training tests, made on first use: importing this
    module does not import torch."""
    if name != "RECIPE":
        raise AttributeError(name)
    from transferability.training.sgd import Recipe

    return Recipe(
        epochs=2,
        batch_size=16,
        lr=0.01,
        momentum=0.9,
        weight_decay=5e-4,
        lr_steps=(0.5,),
        lr_gamma=0.1,
        warmup=0.1,
        clip_grad_norm=5.0,
    )


# ------------------------------------------------------------------------------------
# Pipeline steps as processes, alone or through the shared training process

ANNOUNCED = re.compile(r"\[shared training process (\d+):")


def train_base_argv(
    cache: Path, split: Path, out_dir: Path, epochs: int | None = None
) -> list[str]:
    """`python -m transferability_runtime` arguments training base net random0/A/seed0 (for
    `epochs` epochs: a job long enough to be caught running)."""
    config = tiny_config()
    if epochs is not None:
        config["training"]["base"]["epochs"] = epochs
    settings = json.dumps(grid.train_settings(config, "base"))
    return [
        "train-base", "--cache", str(cache), "--split-file", str(split), "--split", "random0",
        "--half", "A", "--seed", "0", "--settings", settings,
        "--out-model", str(out_dir / "model.pt"), "--out-metrics", str(out_dir / "metrics.json"),
    ]  # fmt: skip


def job_env(runtime: Path, shared: bool, **extra: str) -> dict:
    """The environment of a step: in the shared training process (`shared`) or not, its
    server's socket under `runtime`."""
    from transferability_runtime import shared_process

    return venv_env() | {
        "PYTHONPATH": str(REPO / "workflow"),
        shared_process.ENABLE_ENV: "1" if shared else "0",
        "XDG_RUNTIME_DIR": str(runtime),
        **extra,
    }


def server_socket(environment: dict) -> str:
    """Where a job run in `environment` looks for its shared training process."""
    where = (
        "from transferability_runtime import shared_process; print(shared_process.socket_path())"
    )
    return subprocess.run(
        [sys.executable, "-c", where], env=environment, capture_output=True, text=True, check=True
    ).stdout.strip()


def start_job(argv: list[str], environment: dict, log: Path) -> subprocess.Popen:
    """`python -m transferability_runtime ARGV` (the rules' command: a training step goes to
    the shared process where there is one) in the background, its output into `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "transferability_runtime", *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
        )


def run_job(argv: list[str], environment: dict, log: Path) -> int:
    return start_job(argv, environment, log).wait(timeout=300)


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
