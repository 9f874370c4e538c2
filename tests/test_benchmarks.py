"""The benchmark scripts the README quotes run, and print RESULT lines."""

import re
import subprocess
import sys

from .conftest import REPO

RESULT = re.compile(r"^RESULT (\S+) (\S+) (\S+)$")


def test_base_accuracy_ceiling_prints_results(fake_fashion_mnist):
    script = REPO / "benchmarks/base_accuracy_ceiling.py"
    out = subprocess.run(
        [sys.executable, str(script), "--smoke", "--data-root", str(fake_fashion_mnist)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    results = {m[1]: float(m[2]) for m in map(RESULT.match, out.splitlines()) if m}
    assert set(results) == {
        f"base_top1_dissimilar_{half}_{data}_images" for half in "AB" for data in ("subset", "all")
    }
    assert all(0 <= v <= 1 for v in results.values())


def run_smoke(script: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--smoke", "--repeat", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return {m[1]: float(m[2]) for m in map(RESULT.match, out.splitlines()) if m}


def test_dag_build_prints_results():
    results = run_smoke("dag_build.py")
    assert set(results) == {
        "dag_build_seconds",
        "dag_build_cpu_seconds",
        "dag_build_cells",
        "dag_build_jobs",
    }
    assert results["dag_build_cells"] == 70 and results["dag_build_jobs"] == 79


def test_noop_rerun_prints_results():
    results = run_smoke("noop_rerun.py")
    assert set(results) == {"noop_rerun_seconds", "noop_rerun_cpu_seconds", "noop_rerun_outputs"}
    assert results["noop_rerun_seconds"] > 0
