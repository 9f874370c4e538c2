"""Each rule's conda environment provides every module its code imports.

No conda channel is reachable where the tests run, so this is checked statically: the
rule's shell command names a step (`step_command("STEP", ...)`, `python -m transferability
STEP` or `python -m transferability_runtime STEP`); from the entry points and that step's
function the packages' imports are followed through the code (ast, function by function,
as far as the step can reach), and every third-party module met must come from a package
the rule's env file pins.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from transferability.data.readers import READERS

from .support import REPO, rules

pytestmark = pytest.mark.envs

WORKFLOW = REPO / "workflow"
# The first-party packages; their modules are named in full (`transferability.training.jobs`).
PACKAGES = ("transferability", "transferability_runtime")
# Import name -> the package that provides it (the envs install PyPI's wheels with pip).
CONDA_PACKAGE = {
    "torch": "torch",
    "torchvision": "torchvision",
    "numpy": "numpy",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "jsonschema": "jsonschema",
    "scipy": "scipy",
}


class Module:
    def __init__(self, name: str):
        self.name = name  # its full name: `transferability.training.jobs`
        self.tree = ast.parse(WORKFLOW.joinpath(*name.split(".")).with_suffix(".py").read_text())
        self.defs = {
            node.name: node
            for node in self.tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        }
        # Package modules imported whole (`from . import models as m`): local name -> module;
        # only the names used as `m.NAME` in reached code are followed, not the whole module.
        self.submodules = {
            alias.asname or alias.name: f"{self.source(node)}.{alias.name}"
            for node in ast.walk(self.tree)
            if isinstance(node, ast.ImportFrom) and first_party(node)
            for alias in node.names
            if f"{self.source(node)}.{alias.name}" in package_modules()
        }

    def source(self, node: ast.ImportFrom) -> str:
        """The module an import names: `from ..data import splits` in
        transferability/training/jobs.py is `transferability.data`, `from .solver import
        train` is `transferability.training.solver`, `from transferability import cli` is
        `transferability`."""
        if node.level == 0:
            return node.module
        here = self.name.split(".")[:-1]
        base = here[: len(here) - (node.level - 1)]
        return ".".join(base + (node.module.split(".") if node.module else []))

    def top_level(self) -> list[ast.AST]:
        return [node for node in self.tree.body if node.__class__ not in DEFS]


DEFS = {ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef}


@cache
def module(name: str) -> Module:
    return Module(name)


def first_party(node: ast.ImportFrom) -> bool:
    return node.level > 0 or (node.module or "").split(".")[0] in PACKAGES


@cache
def package_modules() -> frozenset[str]:
    """Every module of the packages by its full name; no __init__.py."""
    return frozenset(
        ".".join(p.relative_to(WORKFLOW).with_suffix("").parts)
        for package in PACKAGES
        for p in (WORKFLOW / package).rglob("*.py")
        if p.name != "__init__.py"
    )


def step_functions() -> dict[str, tuple[str, str]]:
    """Step name -> the module and function that run it (the step tables, steps.py)."""
    from transferability_runtime.steps import ALL

    return {name: (step.run.__module__, step.run.__name__) for name, step in ALL.items()}


READERS_MODULE = "transferability.data.readers"


def third_party_imports(step: str) -> set[str]:
    """Top-level names of the non-standard modules a step can import."""
    others = set(step_functions().values()) - {step_functions()[step]}
    todo = [
        ("transferability.__main__", None),
        ("transferability_runtime.__main__", None),
        step_functions()[step],
    ]
    seen: set[tuple[str, str | None]] = set()
    external: set[str] = set()

    def reach(mod: str, name: str | None) -> None:
        if (mod, name) in others:
            return  # the step tables only name the other steps; they never call them
        if (mod, name) not in seen:
            todo.append((mod, name))

    while todo:
        mod, name = todo.pop()
        if (mod, name) in seen:
            continue
        seen.add((mod, name))
        if (mod, name) == (READERS_MODULE, "reader"):  # imports each reader by name
            for reader in READERS.values():
                reach(f"transferability.{reader}", None)
        m = module(mod)
        if name is None:
            nodes = m.top_level()
        elif name in m.defs:
            nodes = [m.defs[name]]
            reach(mod, None)
        else:
            continue  # a constant: the module's top level is reached already
        for node in (n for top in nodes for n in ast.walk(top)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in package_modules():
                        reach(alias.name, None)
                    elif alias.name.split(".")[0] not in PACKAGES:
                        external.add(alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and not first_party(node):
                external.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                source = m.source(node)
                if source not in package_modules():  # from . import models: its top level
                    for alias in node.names:
                        reach(f"{source}.{alias.name}", None)
                else:  # from ..data.cache import load_cache
                    reach(source, None)
                    for alias in node.names:
                        reach(source, alias.name)
            elif isinstance(node, ast.Name) and node.id in m.defs:
                reach(mod, node.id)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in m.submodules
            ):
                reach(m.submodules[node.value.id], node.attr)  # models.freeze(...)
            elif (
                isinstance(node, ast.keyword)
                and node.arg == "engine"
                and isinstance(node.value, ast.Constant)
            ):
                # pandas' to_parquet/read_parquet(engine="pyarrow") imports it by name
                external.add(node.value.value)
    assert {m for m, _ in seen} <= package_modules()
    return external - set(sys.stdlib_module_names) - {"__future__"}


def env_packages(env_file: Path) -> dict[str, str]:
    """Package -> pinned version from a conda env file: conda's `python =3.11`, and the
    `pip:` section's `name==version` (pip itself, which only installs, is not pinned)."""
    spec = yaml.safe_load(env_file.read_text())
    pins = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for wheel in dep["pip"]:
                if wheel.startswith("--"):  # a pip option (envs/train-cu12.yaml's index)
                    continue
                # A local version label (`+cu128`: another build of the same release) is
                # not part of the version compared with the venv's.
                match = re.fullmatch(
                    r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.]*)(\+[a-z0-9.]+)?", wheel
                )
                assert match, f"{env_file.name}: pip's {wheel!r} is not pinned (`name==version`)"
                pins[match[1]] = match[2]
            continue
        if dep == "pip":
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+) *=+ *([0-9][0-9A-Za-z.]*)", str(dep))
        assert match, f"{env_file.name}: {dep!r} is not pinned to one release (`name =version`)"
        pins[match[1]] = match[2]
    return pins


def rule_env_and_step(block: str) -> tuple[Path, str]:
    (env,) = re.findall(r'^    conda:\n        "([^"]+)"', block, flags=re.MULTILINE)
    (step,) = re.findall(r'step_command\(\s*"([a-z0-9-]+)"', block)
    return (REPO / "workflow/rules" / env).resolve(), step


# The rules that run a step of the packages.
RULES = sorted((name, block) for name, block in rules().items() if "step_command(" in block)


@pytest.mark.parametrize(("name", "block"), RULES)
def test_every_module_the_rule_imports_is_in_its_env(name, block):
    env_file, step = rule_env_and_step(block)
    provided = set(env_packages(env_file))
    imports = third_party_imports(step)
    unknown = imports - set(CONDA_PACKAGE)
    assert not unknown, f"{name}: add {sorted(unknown)} to CONDA_PACKAGE (import -> conda name)"
    missing = {CONDA_PACKAGE[i] for i in imports} - provided
    assert not missing, f"{name} ({step}): {env_file.name} lacks {sorted(missing)}"


def test_every_package_of_an_env_is_used_by_a_rule_of_that_env():
    used: dict[Path, set[str]] = {}
    for _, block in RULES:
        env_file, step = rule_env_and_step(block)
        used.setdefault(env_file, set()).update(CONDA_PACKAGE[i] for i in third_party_imports(step))
    for env_file, packages in used.items():
        unused = set(env_packages(env_file)) - packages - {"python"}
        assert not unused, f"{env_file.name}: {sorted(unused)} not imported by its rules"


def test_envs_use_conda_forge_alone_and_the_python_of_the_venv():
    major_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    for env_file in sorted((REPO / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env_file.read_text())
        assert spec["channels"] == ["conda-forge", "nodefaults"], env_file.name
        assert env_packages(env_file)["python"] == major_minor, env_file.name


@pytest.mark.gpuguard
def test_the_training_env_installs_the_tests_cuda_build_and_states_the_driver_it_needs():
    """The env gets the wheel the tests run, a CUDA build wherever it is created; the file
    names that build and the driver and GPUs it needs."""
    import torch

    text = (REPO / "envs/train.yaml").read_text()
    assert env_packages(REPO / "envs/train.yaml")["torch"] == torch.__version__.split("+")[0]
    assert f"CUDA {torch.version.cuda} build" in text
    assert "release 580 or newer" in text and "compute capability 7.5" in text


@pytest.mark.pipeline
def test_every_env_pin_is_the_version_the_tests_run():
    """Each env's packages are pinned to the versions installed in the venv running these
    tests, and to requirements.txt where it lists them: a bump in one fails here."""
    from importlib.metadata import version

    required = dict(
        line.split("#")[0].strip().split("==")
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if "==" in line
    )
    for env_file in sorted((REPO / "envs").glob("*.yaml")):
        for package, pinned in env_packages(env_file).items():
            if package == "python":
                continue
            assert pinned == version(package), (env_file.name, package, version(package))
            assert required.get(package, pinned) == pinned, (env_file.name, package)


def test_the_import_analysis_sees_lazy_imports():
    """The analysis itself: the steps' heavy imports live inside functions."""
    assert third_party_imports("prepare-data") == {"torch", "torchvision", "numpy", "PIL"}
    assert "torch" in third_party_imports("train-cell")
    # torchvision decodes a JPEG store's batches: a reader the training steps import by name.
    assert "torchvision" in third_party_imports("train-cell")
    assert third_party_imports("aggregate") == {"pandas", "pyarrow"}
    assert {"matplotlib", "seaborn", "numpy", "pandas"} <= third_party_imports("figures")
