"""Two packages: the experiment (transferability) and what runs it as a Snakemake workflow
(transferability_runtime). The experiment imports nothing of the runtime, nor Snakemake;
`python -m transferability STEP` runs the step itself, with no shared process."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from transferability import cli, provenance, steps
from transferability_runtime import shared_process
from transferability_runtime import steps as runtime_steps

from .support import REPO, venv_env

EXPERIMENT = REPO / "workflow/transferability"
FORBIDDEN = ("transferability_runtime", "snakemake")


def imported_names(path) -> set[str]:
    """Every module an import statement in the file names, relative ones resolved to the
    experiment package (they cannot leave it)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names.update(a.value for a in node.args if isinstance(a, ast.Constant))
    return names


@pytest.mark.parametrize(
    "path", sorted(EXPERIMENT.rglob("*.py")), ids=lambda p: str(p.relative_to(EXPERIMENT))
)
def test_the_experiment_imports_nothing_of_the_runtime_or_snakemake(path):
    bad = {n for n in imported_names(path) if n.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_the_experiment_runs_without_the_runtime_on_its_path(tmp_path):
    """Only transferability/ on PYTHONPATH: its command line and every step's code load."""
    (tmp_path / "transferability").symlink_to(EXPERIMENT)
    probe = (
        "import sys; from transferability import cli, provenance; cli.parser(); "
        "[provenance.modules_of(s.name) for s in cli.STEPS]; "
        "print(sorted(m for m in sys.modules if m.startswith('transferability_runtime')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=venv_env() | {"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_each_step_is_declared_once_and_everything_follows_from_it():
    names = [s.name for s in (*steps.STEPS, *runtime_steps.STEPS)]
    assert len(names) == len(set(names)) == len(runtime_steps.ALL)
    assert set(provenance.STEP_MODULES) == {s.name for s in steps.STEPS}
    assert set(shared_process.STEPS) == {"train-base", "train-cell", "train-reference"}
    subparsers = cli.parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    assert set(subparsers) == set(provenance.STEP_MODULES)
    assert set(runtime_steps.parser()._subparsers._group_actions[0].choices) == set(names)
    for step in runtime_steps.ALL.values():
        assert runtime_steps.code_fingerprint(step.name)
        flags = {a.option_strings[0] for a in step_parser(step.name)._actions[1:]}
        assert flags == {f"--{a.name}" for a in (*steps.COMMON, *step.arguments)}


def step_parser(name):
    return runtime_steps.parser()._subparsers._group_actions[0].choices[name]


def test_the_step_table_and_the_command_line_are_in_every_fingerprint():
    """Every step runs them: an edit there is an edit of the step's code (each step sees
    only its own function of the table, provenance.py)."""
    for name in provenance.STEP_MODULES:
        assert {"steps", "cli"} <= set(provenance.modules_of(name)), name
