"""After a complete run, a change reruns exactly the jobs it affects; provenance; the report.

One real tiny run (module-scoped, in a copy of the repository so its package code can
be edited), then one dry run per change with Snakemake's default rerun triggers; each
test asserts the exact set of jobs Snakemake would run.
"""

from __future__ import annotations

import contextlib
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from transferability import treatments

from .support import FASHION_MNIST_ROOT, TINY_GRID, copy_repository, snakemake
from .support import REPO as REPO_ROOT

TINY = TINY_GRID
TARGETS = ("A", "B")
# The default's treatments (TINY leaves them as config/config.yaml has them).
TREATMENTS = yaml.safe_load((REPO_ROOT / "config/config.yaml").read_text())["treatments"]
DOWNSTREAM = {("aggregate",), ("figures",), ("claims",), ("tables",)}
# The task distance: from the split files, and a reference net trained with the base recipe.
DISTANCE = {("task_distance",)}
REFERENCE = {("train_reference",)} | DISTANCE


def run_snakemake(clone: Path, *args: str, change: bool = False, timeout: float = 900):
    """snakemake in the clone, on the tiny config (and change.yaml over it: one --configfile
    with both, as a second --configfile would replace the first)."""
    configs = ("tiny.yaml", "change.yaml") if change else ("tiny.yaml",)
    return snakemake(
        clone, "--cores", "2", "--configfile", *configs, *args, clone=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A copy of the repository's tracked files after one complete tiny run."""
    if not FASHION_MNIST_ROOT.is_dir():
        pytest.fail("install Debian's dataset-fashion-mnist first (make data)")
    root = tmp_path_factory.mktemp("rerun")
    copy_repository(root)
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = run_snakemake(root)
    assert result.returncode == 0, result.stderr[-5000:]
    return root


JOB_LINE = re.compile(r"^(?:local)?rule (\w+):$")


def planned_jobs(clone: Path, change: dict | None = None, targets=()) -> set[tuple]:
    """The jobs a dry run (for `targets`, default `all`) would execute (without `all`):
    (rule, *wildcard values)."""
    if change is not None:
        (clone / "change.yaml").write_text(yaml.safe_dump(change))
    result = run_snakemake(clone, "--dry-run", *targets, change=change is not None)
    assert result.returncode == 0, result.stderr[-5000:]
    jobs, rule = [], None
    for line in result.stdout.splitlines():
        if m := JOB_LINE.match(line.strip()):
            rule = m[1]
            jobs.append([rule])
        elif line.strip().startswith("wildcards:") and jobs:
            values = line.split(":", 1)[1].split(",")
            jobs[-1] += [v.split("=", 1)[1].strip() for v in values]
    return {tuple(j) for j in jobs if j[0] != "all"}


def cells(treatments=TREATMENTS, ns=("1", "7"), split="random0", seed="0") -> set[tuple]:
    return {
        ("train_cell", split, t, treatment, n, seed)
        for t in TARGETS
        for treatment in treatments
        for n in ns
    }


def bases(split="random0", seed="0") -> set[tuple]:
    return {("train_base", split, h, seed) for h in TARGETS}


@contextlib.contextmanager
def edited(path: Path, addition: str):
    """Append `addition` to a source file for the duration of the block."""
    original = path.read_text()
    path.write_text(original + addition)
    try:
        yield
    finally:
        path.write_text(original)


CODE_CHANGE = "\n\n_RERUN_PROBE = 1  # a change of the code, not only of a comment\n"


@pytest.mark.invalidation
def test_nothing_changed_nothing_to_do(clone):
    assert planned_jobs(clone) == set()


@pytest.mark.invalidation
def test_a_fine_tuning_setting_reruns_only_the_fine_tuned_cells(clone):
    jobs = planned_jobs(clone, {"training": {"finetune": {"lr": 0.01}}})
    fine_tuned = tuple(t for t in TREATMENTS if treatments.BY_NAME[t].fine_tunes)
    assert jobs == cells(fine_tuned) | DOWNSTREAM
    # docs/reruns.md's way to see the plan: a table of jobs per rule.
    result = run_snakemake(clone, "--dry-run", "--quiet", "rules", change=True)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    remade = len(cells(fine_tuned)) + len(DOWNSTREAM)
    assert counts == {"train_cell": str(len(cells(fine_tuned))),
                      "aggregate": "1", "figures": "1", "claims": "1", "tables": "1", "all": "1",
                      "total": str(remade + 1)}  # fmt: skip


@pytest.mark.invalidation
def test_a_treatments_own_setting_reruns_only_its_cells(clone):
    jobs = planned_jobs(clone, {"training": {"by_treatment": {"random": {"lr": 0.001}}}})
    assert jobs == cells(("random",)) | DOWNSTREAM


@pytest.mark.invalidation
def test_the_target_epochs_rerun_the_cells_not_the_base_nets(clone):
    jobs = planned_jobs(clone, {"training": {"cell": {"epochs": 2}}})
    assert jobs == cells() | DOWNSTREAM


@pytest.mark.invalidation
def test_a_base_setting_reruns_the_base_nets_and_what_copies_from_them(clone):
    jobs = planned_jobs(clone, {"training": {"base": {"epochs": 2}}})
    # Frozen random cells copy nothing from a base net: they stay.
    copying = tuple(t for t in TREATMENTS if treatments.BY_NAME[t].copies_from != treatments.NONE)
    assert jobs == bases() | cells(copying) | REFERENCE | DOWNSTREAM


@pytest.mark.invalidation
def test_a_new_seed_trains_only_the_new_nets(clone):
    jobs = planned_jobs(clone, {"seeds": [0, 1]})
    assert jobs == bases(seed="1") | cells(seed="1") | DOWNSTREAM


@pytest.mark.invalidation
def test_a_new_split_trains_only_the_new_nets(clone):
    jobs = planned_jobs(clone, {"splits": {"random": 2}})
    # The default runs its fine-tuned cells on the first split only (treatment_splits).
    frozen = tuple(t for t in TREATMENTS if not treatments.BY_NAME[t].fine_tunes)
    new = {("make_split", "random1")} | bases("random1") | cells(frozen, split="random1")
    assert jobs == new | DISTANCE | DOWNSTREAM


@pytest.mark.invalidation
def test_a_new_n_trains_only_the_new_cells(clone):
    jobs = planned_jobs(clone, {"layers": [1, 4, 7]})
    assert jobs == cells(ns=("4",)) | DOWNSTREAM


@pytest.mark.invalidation
def test_a_plot_setting_reruns_only_the_figures(clone):
    assert planned_jobs(clone, {"plots": {"dpi": 72}}) == {("figures",)}


@pytest.mark.invalidation
def test_plotting_code_reruns_only_the_figures(clone):
    with edited(clone / "workflow/transferability/analysis/plotting.py", CODE_CHANGE):
        assert planned_jobs(clone) == {("figures",)}


@pytest.mark.invalidation
def test_training_code_reruns_training_and_its_dependants(clone):
    with edited(clone / "workflow/transferability/training/solver.py", CODE_CHANGE):
        assert planned_jobs(clone) == bases() | cells() | REFERENCE | DOWNSTREAM


@pytest.mark.invalidation
def test_a_comment_in_the_code_reruns_nothing(clone):
    with edited(clone / "workflow/transferability/training/solver.py", "\n# only a comment\n"):
        assert planned_jobs(clone) == set()


# ------------------------------------------------------------------------------------
# Provenance


def test_each_net_records_where_it_came_from(clone):
    from transferability import provenance

    paths = sorted((clone / "results").glob("**/metrics.json"))
    assert len(paths) == 2 + 20
    for path in paths:
        record = json.loads(path.read_text())
        step = "train-base" if record["treatment"] == "base" else "train-cell"
        assert record["code_fingerprint"] == provenance.code_fingerprint(step)
        assert record["torch_version"] and record["torchvision_version"]
        assert record["device"] == "cpu"
        assert record["epochs"] == 1 and record["train_seconds"] > 0
        assert record["settings"]["recipe"]["epochs"] == 1
        assert record["settings"]["model"]["layout"] == "small28"
        assert isinstance(record["seed"], int)


def test_the_summary_carries_the_provenance_columns(clone):
    table = pd.read_parquet(clone / "results/summary.parquet")
    for column in [
        "settings", "seed", "code_fingerprint", "torch_version", "torchvision_version",
        "device", "epochs", "train_seconds", "metrics_path", "recipe_lr", "recipe_epochs", "key",
    ]:  # fmt: skip
        assert column in table.columns, column
    assert table.groupby(table["treatment"] == "base")["code_fingerprint"].nunique().max() == 1
    assert table["key"].nunique() == len(table)  # one key a net
    assert (table["recipe_epochs"] == 1).all()


def test_nets_used_traces_figures_and_claims_to_metrics_files(clone):
    nets = pd.read_csv(clone / "results/nets_used.csv", keep_default_na=False)
    assert len(nets) == 22
    # A net counts if it trained, or never left chance on frozen random layers (nets.counts).
    counted = (nets["status"] == "trained") | (
        (nets["status"] == "chance") & nets["treatment"].map(treatments.is_random)
    )
    for row, counts in zip(nets.itertuples(), counted, strict=True):
        assert (clone / row.metrics_path).is_file()
        assert ("claims" in row.used_by.split()) == counts
    assert (nets["used_by"].str.contains("figure2") == counted).all()


# ------------------------------------------------------------------------------------
# The Snakemake report


@pytest.mark.report
def test_the_readme_report_command_builds_one_html_file(clone):
    result = run_snakemake(clone, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-5000:]
    page = (clone / "results/report.html").read_text()
    for needle in ("figure2.png", "figure3.png", "claims.html", "summary.html", "nets_used.csv"):
        assert needle in page, needle
    assert "Figure 2 of Yosinski et al. (2014)" in page


@pytest.mark.report
def test_the_report_has_the_figures_the_claims_and_the_summary(clone):
    result = run_snakemake(clone, "--report", "results/report.zip")
    assert result.returncode == 0, result.stderr[-5000:]
    with zipfile.ZipFile(clone / "results/report.zip") as z:
        names = z.namelist()
        text = "\n".join(
            z.read(n).decode(errors="replace") for n in names if n.endswith((".html", ".js"))
        )
    for result_file in ("figure2.png", "figure3.png", "claims.html", "summary.html"):
        assert any(n.endswith(result_file) for n in names), result_file
    # The captions from workflow/report/ and the tables' content.
    assert "Figure 2 of Yosinski et al. (2014)" in text
    assert "Every trained net" in text
    assert "transfer_declines_with_n" in text
    assert "code_fingerprint" in text
