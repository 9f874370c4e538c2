"""The code fingerprint covers exactly the package modules a step runs."""

import pytest

from transferability import provenance


def test_training_covers_the_training_code_and_not_the_plots():
    modules = provenance.modules_of("train-cell")
    assert {
        "training.jobs",
        "training.solver",
        "training.models",
        "data.splits",
        "data.halves",
        "data.cache",
    } <= set(modules)
    assert not {"analysis.plotting", "analysis.claims", "analysis.results_table"} & set(modules)
    assert {"cli", "steps"} <= set(modules)  # the command line and step table run too
    assert not any(m.startswith("analysis") for m in modules)


def test_figures_cover_the_plots_and_not_the_training_code():
    modules = provenance.modules_of("figures")
    figures = {"analysis.figure2", "analysis.figure3", "analysis.training_curves"}
    assert figures | {"analysis.plotting", "analysis.results_table"} <= set(modules)
    assert "analysis.claims" not in modules  # a claim's edit redraws no figure
    assert not {"training.solver", "training.jobs", "training.models"} & set(modules)


def test_steps_running_different_code_have_different_fingerprints():
    prints = {step: provenance.code_fingerprint(step) for step in provenance.STEP_MODULES}
    # One module set, but each sees only its own function of the step table.
    assert provenance.modules_of("train-base") == provenance.modules_of("train-cell")
    assert prints["train-base"] != prints["train-cell"]
    assert len({prints[s] for s in ("prepare-data", "train-cell", "figures", "aggregate")}) == 4


def test_a_net_records_the_software_it_ran_on():
    from transferability import jobinfo

    record = jobinfo.software()
    assert record["torch_version"] and record["torchvision_version"]
    assert jobinfo.version("no-such-distribution-xyz") is None


def test_an_unknown_step_is_named():
    with pytest.raises(KeyError, match="unknown step 'train'"):
        provenance.modules_of("train")


def cli_step_imports() -> dict[str, set[str]]:
    """For each `python -m transferability STEP`, the package modules its function in
    steps.py imports."""
    import ast

    from transferability import steps as declared

    tree = ast.parse((provenance.PACKAGE / "steps.py").read_text())
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    steps = {}
    for step in declared.STEPS:
        imported = set()
        for node in ast.walk(functions[step.run.__name__]):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported.update(provenance.resolve("steps", node))
        steps[step.name] = imported
    return steps


def test_every_cli_step_has_a_fingerprint_covering_what_it_imports():
    steps = cli_step_imports()
    assert set(steps) == set(provenance.STEP_MODULES)
    for step, imported in steps.items():
        assert imported <= set(provenance.modules_of(step)), step


def _code_of_a_copy(tmp_path, edit) -> provenance.Code:
    """The fingerprints of a copy of the package with `edit(package_dir)` applied."""
    import shutil

    copy = tmp_path / provenance.PACKAGE_NAME
    shutil.copytree(provenance.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    edit(copy)
    code = provenance.CODE
    parts = {name: code.step_modules[name] for name in code.parts}
    return provenance.Code(copy, provenance.STEP_MODULES, code.step_functions, parts)


def test_a_new_argument_of_one_step_changes_only_that_steps_fingerprint(tmp_path):
    def edit(package):
        steps = package / "steps.py"
        old = '(Arg("table"), Arg("claims-html"), Arg("summary-html"), Arg("nets"))'
        assert old in steps.read_text()
        steps.write_text(steps.read_text().replace(old, old[:-1] + ', optional("extra"))'))

    edited = _code_of_a_copy(tmp_path, edit)
    changed = {
        step
        for step in provenance.STEP_MODULES
        if edited.code_fingerprint(step) != provenance.code_fingerprint(step)
    }
    assert changed == {"tables"}


def test_a_nets_key_covers_the_reader_of_its_own_data_and_no_other(tmp_path):
    from transferability_runtime import plan

    from .support import tiny_config

    def edit(package):
        loader = package / "data" / "store_loader.py"
        loader.write_text(loader.read_text() + "\nEXTRA = 1\n")

    edited = _code_of_a_copy(tmp_path, edit)
    assert edited.code_fingerprint("read-stored") != provenance.code_fingerprint("read-stored")
    for step in ("train-cell", "train-base", "train-reference", "read-imagefolder"):
        assert edited.code_fingerprint(step) == provenance.code_fingerprint(step), step
    assert "data.store_loader" not in provenance.modules_of("train-cell")

    def keys(code, stored):
        paths = {"stored": stored, "generated": False}
        config = tiny_config()
        config["dataset"]["resize"] = 32
        p = plan.Plan(config, paths, code.code_fingerprint, "data")
        return p.cell("random0", "B", "transfer", 3, 0), p.base("random0", "A", 0)

    # Fashion-MNIST nets (tensors) keep their keys; nets read through a store get new ones.
    assert keys(edited, stored=False) == keys(provenance.CODE, stored=False)
    assert set(keys(edited, stored=True)).isdisjoint(keys(provenance.CODE, stored=True))
