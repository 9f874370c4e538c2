"""The committed runs (results/reference/: the default; results/study/: converged nets and
enough units for every claim; results/study-replicate/: its independent replicate): their
figures, claims and README rows are exactly what the current code draws from their
committed tables, their recorded config agrees with the settings of their nets, and `make
reference`'s copy step records what it says it does. Whether a committed run is what
today's code would make is reported (`make results-status`), not tested: a change to the
model must not fail the suite until hours of runs are remade."""

from __future__ import annotations

import json
import shutil
import time

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from transferability.analysis.results_table import flat_settings
from transferability_runtime import reference

from .support import REPO

COMMITTED = REPO / "results/reference"
RUNS = tuple(sorted(p.parent.name for p in (REPO / "results").glob("*/run.json")))
VERDICT_RUNS = {
    "study": REPO / "results/study",
    "study-replicate": REPO / "results/study-replicate",
}


@pytest.fixture(scope="module", params=RUNS)
def run(request, tmp_path_factory):
    """(the committed folder, its figures and claims redrawn from its table)."""
    committed = REPO / "results" / request.param
    out = tmp_path_factory.mktemp(request.param)
    for name in (reference.TABLE, reference.HISTORY):
        shutil.copy2(committed / name, out / name)
    reference.render(out)
    return committed, out


def test_the_committed_runs_are_complete(run):
    committed, _ = run
    names = (reference.TABLE, reference.HISTORY, *reference.FIGURES, reference.CLAIMS)
    for name in (*names, "config.yaml", "run.json"):
        assert (committed / name).is_file(), name
    record = json.loads((committed / "run.json").read_text())
    assert record["make_demo_seconds"] > 0 and record["cores"] >= 1


@pytest.mark.parametrize("name", RUNS)
def test_every_committed_net_was_trained_with_the_settings_its_config_files_give(name):
    """The run's recorded config files, merged as Snakemake merges them, resolve to the
    settings each net of its table records (whatever the code that trained it)."""
    from transferability import grid

    committed = REPO / "results" / name
    config = reference.run_config([REPO / f for f in reference.configfiles_of(committed)])
    table = pd.read_csv(committed / reference.TABLE)
    for treatment, nets in table.groupby("treatment"):
        wanted = flat_settings(grid.train_settings(config, treatment))
        for column, value in wanted.items():
            recorded = nets[column].dropna().unique()
            assert len(recorded) == 1, (name, treatment, column, recorded)
            assert str(recorded[0]) == str(value) or recorded[0] == value, (
                name,
                treatment,
                column,
                recorded[0],
                value,
            )


def test_committed_claims_are_those_of_the_committed_table(run):
    committed, redrawn = run
    assert (redrawn / reference.CLAIMS).read_text() == (committed / reference.CLAIMS).read_text()


@pytest.mark.parametrize("figure", reference.FIGURES)
def test_committed_figures_are_those_of_the_committed_table(run, figure):
    committed, redrawn = run
    ours = matplotlib.image.imread(redrawn / figure)
    theirs = matplotlib.image.imread(committed / figure)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs), f"{figure}: redraw differs; run `make reference`"


def test_readme_verdict_table_is_the_committed_study_and_its_replicate():
    table = reference.verdict_table(VERDICT_RUNS)
    assert table in (REPO / "README.md").read_text(), "paste reference.verdict_table(...)"


def test_copy_step_records_table_config_wall_time_and_job_times(tmp_path, monkeypatch):
    results = tmp_path / "results"
    (results / "benchmarks/train_cell").mkdir(parents=True)
    shutil.copy2(COMMITTED / reference.TABLE, results / "summary.csv")
    history = pd.read_csv(COMMITTED / reference.HISTORY)
    history.to_parquet(results / "history.parquet", engine="pyarrow", index=False)
    bench = "s\th:m:s\tmax_rss\n2.5\t0:00:02\t100\n"
    (results / "benchmarks/train_cell/a.tsv").write_text(bench)
    (results / "benchmarks/train_cell/b.tsv").write_text(bench)
    (results / "benchmarks/aggregate.tsv").write_text(bench)
    (tmp_path / ".snakemake/log").mkdir(parents=True)
    (tmp_path / ".snakemake/log/x.snakemake.log").write_text("...\nElapsed time: 0:09:27.5\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ref"
    started = time.time() - 60
    assert reference.main(["--started", str(started), "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["snakemake_elapsed_seconds"] == pytest.approx(567.5)
    assert 59 <= run["make_demo_seconds"] < 600
    assert run["jobs_per_rule"]["train_cell"] == {"jobs": 2, "seconds": 5.0}
    assert run["jobs_per_rule"]["aggregate"]["jobs"] == 1
    assert (out / "config.yaml").read_text().startswith((REPO / "config/config.yaml").read_text())
    assert (out / reference.CLAIMS).read_text() == (COMMITTED / reference.CLAIMS).read_text()


def test_copy_step_without_a_finished_run_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert reference.main(["--started", "0", "--results", str(tmp_path / "none")]) == 1
    assert "run `make demo` first" in capsys.readouterr().err
