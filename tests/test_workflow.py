"""The whole workflow through the real `snakemake` command, on a tiny config."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from transferability import grid

from .support import (
    FASHION_MNIST_ROOT,
    TINY,
    claim_rows,
    copy_repository,
    expected_nets,
    resolved,
)

pytestmark = pytest.mark.workflow


def make_demo(clone: Path) -> subprocess.CompletedProcess:
    """The README's `make demo`, with the tiny config added through SNAKEMAKE_ARGS."""
    return subprocess.run(
        ["make", "demo", "SNAKEMAKE_ARGS=--configfile tiny.yaml"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A copy of the repository's tracked files, run with `make demo` as a newcomer would.

    It shares this test run's virtual environment (a symlink), so make installs nothing.
    """
    if not FASHION_MNIST_ROOT.is_dir():
        pytest.fail("install Debian's dataset-fashion-mnist first (make data)")
    clone = tmp_path_factory.mktemp("clone")
    copy_repository(clone)
    (clone / ".venv").symlink_to(Path(sys.executable).parents[1])
    (clone / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = make_demo(clone)
    assert result.returncode == 0, result.stderr[-5000:]
    assert "Results: results/summary.parquet" in result.stdout
    return clone


def test_table_has_exactly_one_row_per_expected_net(tiny_run):
    table = pd.read_parquet(tiny_run / "results/summary.parquet")
    rows = list(table[["split", "target", "treatment", "n", "seed"]].itertuples(index=False))
    assert len(rows) == len(set(rows))
    assert set(map(tuple, rows)) == expected_nets(resolved(TINY))


def test_table_has_the_columns_of_the_tidy_schema(tiny_run):
    table = pd.read_parquet(tiny_run / "results/summary.parquet")
    for column in [
        "split", "split_kind", "target", "source", "treatment", "n", "seed",
        "top1", "epochs", "train_seconds", "diverged",
    ]:  # fmt: skip
        assert column in table.columns
    assert table["top1"].between(0, 1).all()
    assert set(table.loc[table["treatment"] == "base", "n"]) == {0}


def test_csv_beside_the_parquet_has_the_same_rows(tiny_run):
    csv = pd.read_csv(tiny_run / "results/summary.csv")
    parquet = pd.read_parquet(tiny_run / "results/summary.parquet")
    assert len(csv) == len(parquet) and list(csv.columns) == list(parquet.columns)


def test_figures_and_claims_exist(tiny_run):
    for figure in ("figure2.png", "figure3.png"):
        data = (tiny_run / "results/figures" / figure).read_bytes()
        assert data.startswith(b"\x89PNG")
    claims = (tiny_run / "results/claims.md").read_text()
    from transferability.analysis.claims import REGISTRY

    # Exactly one row per registry entry, in its order, in both tables: a claim left out,
    # repeated or named only as part of another's name fails.
    names = [spec.name for spec in REGISTRY]
    assert claim_rows(claims, "Claims") == claim_rows(claims, "Margins") == names


def test_every_job_left_a_log_and_a_benchmark(tiny_run):
    logs = list((tiny_run / "results/logs/train_cell").rglob("*.log"))
    benchmarks = list((tiny_run / "results/benchmarks/train_cell").rglob("*.tsv"))
    assert len(logs) == len(benchmarks) == len(grid.cells(resolved(TINY)))


def test_a_second_make_demo_has_nothing_left_to_do(tiny_run):
    result = make_demo(tiny_run)
    assert result.returncode == 0, result.stderr
    assert "Nothing to be done" in result.stdout + result.stderr


def test_two_threads_per_job_give_the_same_numbers(tiny_run, tmp_path):
    """The determinism check that replaced results/reference-threads2/: the same config on
    two threads per training job trains every net to the same top-1, bit for bit."""
    from .support import snakemake

    config = resolved(TINY) | {"resources": resolved(TINY)["resources"]}
    config["resources"]["train"] = config["resources"]["train"] | {"threads": 2}
    result = snakemake(tmp_path, "--cores", "2", config=config, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    keys = ["split", "target", "treatment", "n", "seed"]
    one = pd.read_parquet(tiny_run / "results/summary.parquet").set_index(keys).sort_index()
    two = pd.read_parquet(tmp_path / "results/summary.parquet").set_index(keys).sort_index()
    assert (two["threads"] == 2).all() and (one["threads"] == 1).all()
    assert one["top1"].equals(two["top1"]) and one["val_top1"].equals(two["val_top1"])
