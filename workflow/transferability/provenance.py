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
from importlib import metadata
from pathlib import Path

from . import steps

PACKAGE = Path(__file__).resolve().parent
PACKAGE_NAME = PACKAGE.name
# Modules that only route arguments (the step table and the command line): counting them
# would rerun every step whenever any one step's arguments changed.
ROUTING = frozenset({"cli", "steps"})


class Code:
    """The code of one package's steps. A module is named by its path in the package
    (`training.jobs` is training/jobs.py); a module of a sibling package that it imports
    (`from transferability import jobinfo` in another package beside this one) by its full
    name (`transferability.jobinfo`), so a step's fingerprint covers it too."""

    def __init__(self, package: Path, step_modules: dict[str, tuple[str, ...]]):
        self.package, self.name, self.step_modules = package, package.name, step_modules
        self._trees: dict[str, ast.Module] = {}
        self._digests: dict[str, str] = {}
        self._imports: dict[str, frozenset[str]] = {}
        self._prints: dict[str, str] = {}

    def source_file(self, module: str) -> Path | None:
        """The file of a module (`training.jobs`) or subpackage (`training`: its
        __init__.py), or None if there is none."""
        parts = module.split(".")
        roots = [self.package]
        if parts[0] != self.name and (self.package.parent / parts[0] / "__init__.py").is_file():
            roots.append(self.package.parent)  # a sibling package's module, by its full name
        for root in roots:
            path = root.joinpath(*parts)
            for candidate in (path.with_suffix(".py"), path / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None

    def _absolute(self, parts: list[str]) -> list[str]:
        """An absolute import's module path as this package names it: its own modules by
        their path in it, a sibling package's by their full name; [] for anything else."""
        if parts[0] == self.name:
            return parts[1:]
        if (self.package.parent / parts[0] / "__init__.py").is_file():
            return parts
        return []

    def resolve(self, module: str, node: ast.ImportFrom) -> list[str]:
        """The modules an import statement in `module` names: `from ..data import splits` in
        training/jobs.py is `data.splits` (and the package `data`); names that are not
        modules (`from .models import freeze`) are not."""
        if node.level == 0:
            base = self._absolute((node.module or "").split("."))
            if not base:
                return []
        else:
            here = module.split(".")[:-1]  # the package `module` is in
            if self.source_file(module) is not None and self.source_file(module).name == (
                "__init__.py"
            ):
                here = module.split(".")
            base = here[: len(here) - (node.level - 1)]
            base += node.module.split(".") if node.module else []
        found = [".".join(base[:i]) for i in range(1, len(base) + 1)]
        found += [".".join([*base, alias.name]) for alias in node.names]
        return [m for m in found if m and self.source_file(m) is not None]

    def _parsed(self, module: str) -> ast.Module:
        if module not in self._trees:
            path = self.source_file(module)
            self._trees[module] = ast.parse(path.read_text(), filename=str(path))
        return self._trees[module]

    def _digest(self, module: str) -> str:
        if module not in self._digests:
            dump = ast.dump(self._parsed(module)).encode()
            self._digests[module] = hashlib.sha256(dump).hexdigest()
        return self._digests[module]

    def _imported(self, module: str) -> frozenset[str]:
        """Modules that `module` imports, at any depth in the file (lazy imports count), and
        the subpackages they are in (importing training.jobs runs training/__init__.py)."""
        if module not in self._imports:
            found = set()
            for node in ast.walk(self._parsed(module)):
                if isinstance(node, ast.ImportFrom):
                    found.update(self.resolve(module, node))
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        parts = self._absolute(alias.name.split("."))
                        found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            found -= ROUTING
            self._imports[module] = frozenset(m for m in found if self.source_file(m) is not None)
        return self._imports[module]

    def modules_of(self, step: str) -> list[str]:
        """The step's entry modules, the subpackages they are in and all modules they
        import, sorted."""
        if step not in self.step_modules:
            raise KeyError(f"unknown step {step!r}; known: {sorted(self.step_modules)}")
        seen: set[str] = set()
        todo = list(self.step_modules[step])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                parts = module.split(".")
                parents = {".".join(parts[:i]) for i in range(1, len(parts))}
                todo.extend((self._imported(module) | parents) - seen)
        return sorted(seen)

    def code_fingerprint(self, step: str) -> str:
        """A short hash of the code `step` runs: changes iff one of its modules' syntax
        changes."""
        if step not in self._prints:
            digest = hashlib.sha256()
            for module in self.modules_of(step):
                digest.update(f"{module}\0{self._digest(module)}\0".encode())
            self._prints[step] = digest.hexdigest()[:16]
        return self._prints[step]


# The package modules each `python -m transferability STEP` calls into, as steps.py
# declares them.
STEP_MODULES = {step.name: step.modules for step in steps.STEPS}
CODE = Code(PACKAGE, STEP_MODULES)
source_file, resolve, modules_of = CODE.source_file, CODE.resolve, CODE.modules_of
code_fingerprint = CODE.code_fingerprint


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
