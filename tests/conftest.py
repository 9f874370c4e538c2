"""Shared fixtures: a synthetic Fashion-MNIST-format dataset, its data cache and a split.
The helpers the tests share are in tests/support.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import make_fake_fashion_mnist, tiny_config


@pytest.fixture(scope="session")
def fake_fashion_mnist(tmp_path_factory) -> Path:
    return make_fake_fashion_mnist(tmp_path_factory.mktemp("fake-fashion-mnist"))


@pytest.fixture(scope="session")
def fake_cache(tmp_path_factory, fake_fashion_mnist) -> Path:
    from transferability.data.fashion_mnist import build_cache

    out = tmp_path_factory.mktemp("cache") / "fashion_mnist.pt"
    build_cache("fashion_mnist", fake_fashion_mnist, False, "unused", out)
    return out


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


# ---------------------------------------------------------------------------------------
# Lanes by cost: `make test-fast` runs `pytest -m "not slow"` (the package's unit tests, in
# minutes); `make test` runs everything. A test is slow where it runs snakemake, a cluster,
# a benchmark script or a whole training: by its topic marker, its fixture or its module.
SLOW_MARKERS = {"workflow", "invalidation", "report", "faults", "smoke", "slurm", "envs"}
SLOW_FIXTURES = {"clone", "reference", "run"}
SLOW_MODULES = {
    "test_rerun",
    "test_provenance_content",
    "test_workflow",
    "test_benchmarks",
    "test_faults",
    "test_smoke",
    "test_slurm",
    "test_makefile",
    "test_worker",
}
# Single tests that run snakemake or a benchmark in modules that are otherwise quick.
SLOW_TESTS = {
    "test_the_units_and_convergence_benchmarks_run_quick",
    "test_grouping_cuts_the_default_to_a_few_jobs_and_off_is_one_per_cell",
    "test_a_data_path_with_spaces_quotes_and_braces_reaches_the_jobs_intact",
}


def pytest_collection_modifyitems(items):
    for item in items:
        markers = {m.name for m in item.iter_markers()}
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if (
            markers & SLOW_MARKERS
            or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or module in SLOW_MODULES
            or item.originalname in SLOW_TESTS
        ):
            item.add_marker(pytest.mark.slow)
