"""Where a number came from: the code that made it, and the software it ran on.

`code_fingerprint(step)` hashes the source of the package modules one workflow step
runs: the step's entry modules and every package module they import, transitively.
The Snakefile puts it in each rule's params, so Snakemake's params trigger reruns a
step exactly when its code changes (a training job does not rerun when only plots.py
changes; the figures do). The job records the same fingerprint in its metrics.

The hash is of each module's syntax tree, not its text: comments and formatting do
not change what a step computes, so they do not rerun it. No torch import here: the
Snakefile calls this at start, and torchvision's version comes from its metadata
(importing it costs seconds per job).
"""

from __future__ import annotations

import ast
import hashlib
import platform
import socket
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PACKAGE_NAME = PACKAGE.name

# The package modules each `python -m transferability STEP` calls into (see cli.py).
# cli.py itself is left out: it only routes arguments, and counting it would rerun
# every step whenever any one step's argument handling changed.
STEP_MODULES = {
    "make-images": ("smoke_images",),
    "prepare-data": ("sources",),
    "make-split": ("splits", "datasets", "sources"),
    "train-base": ("cells",),
    "train-cell": ("cells",),
    "aggregate": ("summary",),
    "figures": ("plots", "summary"),
    "claims": ("claims_report", "summary", "atomic"),
    "tables": ("trace", "summary"),
    "smoke-report": ("smoke",),
}


@cache
def _parsed(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(), filename=f"{module}.py")


@cache
def _digest(module: str) -> str:
    return hashlib.sha256(ast.dump(_parsed(module)).encode()).hexdigest()


@cache
def _imported(module: str) -> frozenset[str]:
    """Package modules that `module` imports, at any depth in the file (lazy imports count)."""
    found = set()
    for node in ast.walk(_parsed(module)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import y
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x, y
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and (node.module or "").startswith(f"{PACKAGE_NAME}."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{PACKAGE_NAME}."):
                    found.add(alias.name.split(".")[1])
    return frozenset(m for m in found if (PACKAGE / f"{m}.py").is_file())


def modules_of(step: str) -> list[str]:
    """The step's entry modules and all package modules they import, sorted."""
    if step not in STEP_MODULES:
        raise KeyError(f"unknown step {step!r}; known: {sorted(STEP_MODULES)}")
    seen: set[str] = set()
    todo = list(STEP_MODULES[step])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imported(module) - seen)
    return sorted(seen)


@cache
def code_fingerprint(step: str) -> str:
    """A short hash of the code `step` runs: changes iff one of its modules' syntax changes."""
    digest = hashlib.sha256()
    for module in modules_of(step):
        digest.update(f"{module}\0{_digest(module)}\0".encode())
    return digest.hexdigest()[:16]


def version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def environment(step: str) -> dict:
    """What a metrics file records about the code and software that produced it."""
    return {
        "code_fingerprint": code_fingerprint(step),
        "code_modules": " ".join(modules_of(step)),
        "torch_version": version("torch"),
        "torchvision_version": version("torchvision"),
        "python_version": platform.python_version(),
        "host": socket.gethostname(),
    }
