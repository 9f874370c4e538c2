"""Where a number came from: the code that made it, and the content it was made of.

`code_fingerprint(step)` hashes the package modules one workflow step runs: the step
table and command line (steps.py, cli.py), the step's entry modules and every package
module they import, transitively. The hash is of each module's syntax tree without its
docstrings: comments, docstrings and formatting do not change what a step computes, so
they rerun nothing. A module may name registry values (`PROVENANCE_DATA`) that are data,
not code: a job's key holds the one entry it uses instead (a treatment's colour is not
its nets' code). The step table is seen by each step as its own entry and function only.
What a training step runs for one kind of data alone (the store's reader, imported by name:
data/readers.py) is a part of its own (`read-stored`), which the key of a net on that
data adds.

Every output of a step gets a *record* beside it (`<output>.prov.json`, `records.py`):
the job's key (a digest of its settings, its code and its inputs' keys, computed by the
workflow before anything runs), the content digest of the output and of each input.
The consumer of a file checks that chain before it reads it. No torch import here: the
Snakefile calls this at start.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from . import steps
from .data import readers

PACKAGE = Path(__file__).resolve().parent
PACKAGE_NAME = PACKAGE.name
# Every step runs the command line and the step table: they are part of each step's code.
TABLE = "steps"
COMMON_MODULES = ("cli", TABLE)


def _without_docs(tree: ast.Module) -> ast.Module:
    """The tree with every docstring dropped (a body of only a docstring keeps `pass`)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body:
            continue
        first = body[0]
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _without_data(tree: ast.Module) -> ast.Module:
    """The tree without the module-level assignments it declares data (`PROVENANCE_DATA =
    ("REGISTRY",)`): a job's key holds the entry of that data it uses, not all of it."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PROVENANCE_DATA" for t in node.targets
        ):
            names |= set(ast.literal_eval(node.value))
    if names:
        tree.body = [
            node
            for node in tree.body
            if not (
                isinstance(node, ast.Assign | ast.AnnAssign)
                and {t.id for t in _targets(node) if isinstance(t, ast.Name)} & names
            )
        ]
    return tree


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _keep_own_entry(tree: ast.Module, step: str) -> None:
    """The table `STEPS = (Step("name", ...), ...)` in the tree reduced to `step`'s own
    entry: another step's arguments are not this step's code (a new argument of one step
    reruns only that step)."""
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or not isinstance(
            node.value, ast.Tuple
        ):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "STEPS" for t in _targets(node)):
            continue
        node.value.elts = [
            entry
            for entry in node.value.elts
            if not (
                isinstance(entry, ast.Call)
                and entry.args
                and isinstance(entry.args[0], ast.Constant)
                and entry.args[0].value != step
            )
        ]


class Code:
    """The code of one package's steps. A module is named by its path in the package
    (`training.jobs` is training/jobs.py); a module of a sibling package that it imports
    (`from transferability import jobinfo` in another package beside this one) by its full
    name (`transferability.jobinfo`), so a step's fingerprint covers it too."""

    def __init__(
        self,
        package: Path,
        step_modules: dict[str, tuple[str, ...]],
        step_functions: dict[str, str] | None = None,  # step -> its function in steps.py
        # Code a step runs for some data only, imported by name ("read-stored": the store's
        # reader, data/readers.py): fingerprinted like a step, without the command line.
        parts: dict[str, tuple[str, ...]] | None = None,
    ):
        self.package, self.name = package, package.name
        self.step_modules = {**step_modules, **(parts or {})}
        self.parts = set(parts or ())
        self.step_functions = step_functions or {}
        # Keyed by (module, step): the step table is seen per step.
        self._trees: dict[tuple, ast.Module] = {}
        self._digests: dict[tuple, str] = {}
        self._imports: dict[tuple, frozenset[str]] = {}
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

    def _parsed(self, module: str, step: str | None = None) -> ast.Module:
        """The module's tree without docstrings and data. The step table (steps.py) is seen
        by each step without the other steps' functions: their lazy imports are not this
        step's code, and an edit to one step's function reruns only that step."""
        view = (module, step if module == TABLE else None)
        if view not in self._trees:
            path = self.source_file(module)
            tree = _without_data(_without_docs(ast.parse(path.read_text(), filename=str(path))))
            if view[1] is not None:
                others = set(self.step_functions.values()) - {self.step_functions.get(step)}
                tree.body = [
                    node
                    for node in tree.body
                    if not (isinstance(node, ast.FunctionDef) and node.name in others)
                ]
                _keep_own_entry(tree, step)
            self._trees[view] = tree
        return self._trees[view]

    def _digest(self, module: str, step: str | None = None) -> str:
        view = (module, step if module == TABLE else None)
        if view not in self._digests:
            dump = ast.dump(self._parsed(module, step)).encode()
            self._digests[view] = hashlib.sha256(dump).hexdigest()
        return self._digests[view]

    def _imported(self, module: str, step: str | None = None) -> frozenset[str]:
        """Modules that `module` imports, at any depth in the file (lazy imports count), and
        the subpackages they are in (importing training.jobs runs training/__init__.py)."""
        view = (module, step if module == TABLE else None)
        if view not in self._imports:
            found = set()
            for node in ast.walk(self._parsed(module, step)):
                if isinstance(node, ast.ImportFrom):
                    found.update(self.resolve(module, node))
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        parts = self._absolute(alias.name.split("."))
                        found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            self._imports[view] = frozenset(m for m in found if self.source_file(m) is not None)
        return self._imports[view]

    def modules_of(self, step: str) -> list[str]:
        """The step's entry modules, the command line and step table, the subpackages they
        are in and all modules they import, sorted."""
        if step not in self.step_modules:
            raise KeyError(f"unknown step {step!r}; known: {sorted(self.step_modules)}")
        seen: set[str] = set()
        common = [m for m in COMMON_MODULES if self.source_file(m) is not None]
        common = [] if step in self.parts else common
        todo = [*self.step_modules[step], *common]
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                parts = module.split(".")
                parents = {".".join(parts[:i]) for i in range(1, len(parts))}
                todo.extend((self._imported(module, step) | parents) - seen)
        return sorted(seen)

    def code_fingerprint(self, step: str) -> str:
        """A short hash of the code `step` runs: changes iff one of its modules' syntax
        (docstrings aside) changes."""
        if step not in self._prints:
            digest = hashlib.sha256()
            for module in self.modules_of(step):
                digest.update(f"{module}\0{self._digest(module, step)}\0".encode())
            self._prints[step] = digest.hexdigest()[:16]
        return self._prints[step]


# The package modules each `python -m transferability STEP` calls into, as steps.py
# declares them.
STEP_MODULES = {step.name: step.modules for step in steps.STEPS}
# The reader of each kind of cache, which a training step imports by name: a net's key
# adds the one of its own data (transferability_runtime/plan.py).
READER_PARTS = {f"read-{kind}": (module,) for kind, module in readers.READERS.items()}
CODE = Code(
    PACKAGE,
    STEP_MODULES,
    {step.name: step.run.__name__ for step in steps.STEPS},
    READER_PARTS,
)
source_file, resolve, modules_of = CODE.source_file, CODE.resolve, CODE.modules_of
code_fingerprint = CODE.code_fingerprint
