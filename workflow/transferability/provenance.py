"""Where a number came from: the code that made it, and the software it ran on.

`code_fingerprint(step)` hashes the source of the package modules one workflow step
runs: the step's entry modules and every package module they import, transitively.
The Snakefile puts it in each rule's params, so Snakemake's params trigger reruns a
step exactly when its code changes (a training job does not rerun when only analysis/plotting.py
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

# The package modules each `python -m transferability STEP` calls into (see cli.py), named
# by their path in the package (`training.jobs` is training/jobs.py). cli.py itself is left
# out: it only routes arguments, and counting it would rerun every step whenever any one
# step's argument handling changed.
STEP_MODULES = {
    "make-images": ("data.smoke_images",),
    "prepare-data": ("data.sources",),
    "store-images": ("data.store", "data.cache"),
    "prepare-ilsvrc-val": ("data.ilsvrc_val",),
    "make-split": ("data.splits", "data.cache", "data.sources"),
    "train-base": ("training.jobs",),
    "train-cell": ("training.jobs",),
    "aggregate": ("analysis.results_table",),
    "figures": (
        "analysis.figure2",
        "analysis.figure3",
        "analysis.training_curves",
        "analysis.results_table",
    ),
    "claims": ("analysis.claims_report", "analysis.results_table", "atomic"),
    "tables": ("analysis.report_tables", "analysis.results_table"),
    "smoke-report": ("analysis.smoke_report",),
}


def source_file(module: str) -> Path | None:
    """The file of a package module (`training.jobs`) or subpackage (`training`: its
    __init__.py), or None if there is none."""
    path = PACKAGE.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The package modules an import statement in `module` names, by their path in the
    package: `from ..data import splits` in training/jobs.py is `data.splits` (and the
    package `data`); names that are not modules (`from .models import freeze`) are not."""
    if node.level == 0:
        if not (node.module or "").startswith(f"{PACKAGE_NAME}."):
            return []
        base = node.module.split(".")[1:]
    else:
        here = module.split(".")[:-1]  # the package `module` is in
        if source_file(module) is not None and source_file(module).name == "__init__.py":
            here = module.split(".")
        base = here[: len(here) - (node.level - 1)]
        base += node.module.split(".") if node.module else []
    found = [".".join(base[:i]) for i in range(1, len(base) + 1)]
    found += [".".join([*base, alias.name]) for alias in node.names]
    return [m for m in found if m and source_file(m) is not None]


@cache
def _parsed(module: str) -> ast.Module:
    path = source_file(module)
    return ast.parse(path.read_text(), filename=str(path.relative_to(PACKAGE)))


@cache
def _digest(module: str) -> str:
    return hashlib.sha256(ast.dump(_parsed(module)).encode()).hexdigest()


@cache
def _imported(module: str) -> frozenset[str]:
    """Package modules that `module` imports, at any depth in the file (lazy imports count),
    and the subpackages they are in (importing training.jobs runs training/__init__.py)."""
    found = set()
    for node in ast.walk(_parsed(module)):
        if isinstance(node, ast.ImportFrom):
            found.update(resolve(module, node))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE_NAME:
                    found.update(".".join(parts[1:i]) for i in range(2, len(parts) + 1))
    return frozenset(m for m in found if source_file(m) is not None)


def modules_of(step: str) -> list[str]:
    """The step's entry modules, the subpackages they are in and all package modules they
    import, sorted."""
    if step not in STEP_MODULES:
        raise KeyError(f"unknown step {step!r}; known: {sorted(STEP_MODULES)}")
    seen: set[str] = set()
    todo = list(STEP_MODULES[step])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            parts = module.split(".")
            parents = {".".join(parts[:i]) for i in range(1, len(parts))}
            todo.extend((_imported(module) | parents) - seen)
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
