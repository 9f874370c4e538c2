"""`make demo` without root: where neither root nor password-less sudo can run apt-get,
`make data` installs nothing, says so in one line and does not fail, and `make demo` says in
one line that torchvision downloads the data instead (`APT=` stands for such a machine)."""

from __future__ import annotations

import subprocess

from .support import REPO, venv_env

NO_PACKAGE = "FASHION_MNIST=/nonexistent/train-images-idx3-ubyte.gz"


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-C", str(REPO), "--no-print-directory", *args],
        capture_output=True, text=True, env=venv_env(), timeout=300, check=False,
    )  # fmt: skip


def test_make_data_without_root_or_sudo_installs_nothing_and_says_so():
    result = make("data", NO_PACKAGE, "APT=")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "dataset-fashion-mnist" in line]
    assert lines == [
        "data: neither root nor password-less sudo: dataset-fashion-mnist not installed"
    ]


def test_make_demo_without_the_package_downloads_and_says_so(tmp_path):
    result = make("demo", NO_PACKAGE, "APT=", f"SNAKEMAKE_ARGS=-n -d {tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    said = [line for line in result.stdout.splitlines() if line.startswith("demo: ")]
    assert len(said) == 1 and "torchvision downloads Fashion-MNIST" in said[0]
    assert "--configfile config/download.yaml" in result.stderr  # set -x shows the command


def test_make_demo_with_the_package_says_so(tmp_path):
    present = REPO / "Makefile"  # any existing file stands for the package's
    result = make(
        "demo",
        f"FASHION_MNIST={present}",
        f"SNAKEMAKE_ARGS=-n -d {tmp_path} --configfile config/download.yaml",
    )
    said = [line for line in result.stdout.splitlines() if line.startswith("demo: ")]
    assert said == [f"demo: data from Debian's dataset-fashion-mnist in {REPO}/"]
