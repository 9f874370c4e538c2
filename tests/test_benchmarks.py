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
