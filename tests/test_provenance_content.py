"""Provenance by content: every output records the key of the job that made it and the
digest of what it holds; the start of a run remakes what does not match, and every step
refuses an input whose record does not. File times and Snakemake's metadata decide
nothing: each case holds with `.snakemake/` deleted.

One real tiny run (test_rerun's clone, in a copy of the repository so its code can be
edited), then one dry run per change; each test restores what it changed.
"""

# ruff: noqa: F811  (the `clone` fixture comes from test_rerun)
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transferability import records
from transferability.errors import DataError

from .support import REPO
from .test_rerun import (  # noqa: F401
    DISTANCE,
    DOWNSTREAM,
    REFERENCE,
    bases,
    cells,
    clone,
    edited,
    planned_jobs,
)

pytestmark = pytest.mark.provenance


@contextlib.contextmanager
def replaced(path: Path, old: str, new: str):
    """`old` replaced by `new` in a file for the duration of the block (bytes restored)."""
    original = path.read_bytes()
    text = original.decode()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    try:
        yield
    finally:
        path.write_bytes(original)


@contextlib.contextmanager
def no_metadata(clone: Path):
    """Snakemake's metadata moved away for the block: only the records can decide."""
    meta, aside = clone / ".snakemake", clone / ".snakemake-aside"
    meta.rename(aside)
    try:
        yield
    finally:
        shutil.rmtree(meta, ignore_errors=True)
        aside.rename(meta)


SPLIT_JOBS = {("make_split", "random0")}


def test_nothing_is_remade_without_snakemakes_metadata(clone):
    with no_metadata(clone):
        assert planned_jobs(clone) == set()


def test_the_step_table_is_code_the_steps_run(clone):
    """Case 1: steps.py holds how make_split reads its settings: an edit to that function
    reruns the split and what is trained on it, even without .snakemake/."""
    steps = clone / "workflow/transferability/steps.py"
    with (
        no_metadata(clone),
        replaced(
            steps,
            "    s = args.settings\n    cache = load_cache(args.cache)\n",
            "    s = dict(args.settings)\n    cache = load_cache(args.cache)\n",
        ),
    ):
        assert planned_jobs(clone) == SPLIT_JOBS | bases() | cells() | DISTANCE | DOWNSTREAM


def test_another_steps_function_in_the_table_reruns_only_that_step(clone):
    steps = clone / "workflow/transferability/steps.py"
    with replaced(
        steps, 'dpi = args.settings.get("dpi", 150)', 'dpi = args.settings.get("dpi", 150) or 150'
    ):
        assert planned_jobs(clone) == {("figures",)}


def test_a_changed_split_seed_without_metadata_remakes_the_split_and_its_nets(clone):
    """Case 2 (and the lost case): no settings files, no file times."""
    with no_metadata(clone):
        jobs = planned_jobs(clone, {"splits": {"seed": 2015}})
    assert jobs >= SPLIT_JOBS and bases() <= jobs and cells() <= jobs


def test_a_hand_edited_split_is_remade_and_a_consumer_refuses_it(clone):
    """Case 3: another valid split (classes swapped) is not the one recorded."""
    path = clone / "results/splits/random0.json"
    record = json.loads(path.read_text())
    a, b = record["halves"]["A"]["classes"], record["halves"]["B"]["classes"]
    swapped = json.dumps(
        record | {"halves": {"A": record["halves"]["B"], "B": record["halves"]["A"]}}
    )
    assert a != b
    original = path.read_bytes()
    path.write_text(swapped)
    try:
        assert planned_jobs(clone) >= SPLIT_JOBS
        with pytest.raises(DataError, match="content changed after it was made"):
            records.check(path, records.read(path)["key"])
    finally:
        path.write_bytes(original)


def test_a_hand_edited_top1_retrains_that_net(clone):
    """Case 6: a metrics file that is not what its job wrote is remade, with the tables."""
    path = clone / "results/cells/random0/B/transfer/n7/seed0/metrics.json"
    with replaced(path, '"top1": ', '"top1": 0.97, "was": '):
        jobs = planned_jobs(clone)
    assert ("train_cell", "random0", "B", "transfer", "7", "0") in jobs
    assert jobs >= DOWNSTREAM and not bases() & jobs


def test_a_run_for_one_file_remakes_it_when_its_record_is_stale(clone):
    """Named targets are judged by their records as `all` is: a hand-edited metrics file
    asked for by its path is remade, and nothing else."""
    cell = "results/cells/random0/B/transfer/n7/seed0/metrics.json"
    with no_metadata(clone), replaced(clone / cell, '"top1": ', '"top1": 0.97, "was": '):
        jobs = planned_jobs(clone, targets=(cell,))
    assert jobs == {("train_cell", "random0", "B", "transfer", "7", "0")}


def test_a_run_for_one_file_remakes_a_stale_net_it_is_made_from_and_no_other(clone):
    """AnB at n = 7 on B is made from base A: with that base's record stale, a run for the
    cell retrains the base and the cell; the other stale cells wait for a run that needs
    them."""
    cell = "results/cells/random0/B/transfer/n7/seed0/metrics.json"
    base = clone / "results/base/random0/A/seed0/metrics.json"
    with no_metadata(clone), replaced(base, '"top1": ', '"top1": 0.97, "was": '):
        jobs = planned_jobs(clone, targets=(cell,))
        everything = planned_jobs(clone)
    assert jobs == {
        ("train_base", "random0", "A", "0"),
        ("train_cell", "random0", "B", "transfer", "7", "0"),
    }
    # A run of `all` remakes every net made from that base (its checkpoint is remade too).
    assert ("train_cell", "random0", "B", "transfer", "1", "0") in everything


def test_a_table_of_another_grid_is_refused_by_the_steps_that_read_it(clone, tmp_path):
    """Case 5: a summary.parquet copied in from another run: remade at the start, and
    refused by the claims step run by hand with the key the plan gives."""
    table = clone / "results/summary.parquet"
    key = records.read(table)["key"]
    original = table.read_bytes()
    import pandas as pd

    pd.read_parquet(table).head(10).to_parquet(table)
    try:
        assert ("aggregate",) in planned_jobs(clone)
        given = json.dumps({"key": "x", "inputs": {str(table): key}, "outputs": []})
        run = subprocess.run(
            [sys.executable, "-m", "transferability", "claims", "--table", str(table),
             "--out", str(tmp_path / "claims.md"), "--provenance", given],
            capture_output=True, text=True, cwd=clone,
            env=dict(os.environ, PYTHONPATH=str(clone / "workflow")),
        )  # fmt: skip
        assert run.returncode == 1 and "content changed after it was made" in run.stderr
        assert not (tmp_path / "claims.md").exists()
    finally:
        table.write_bytes(original)


def test_an_output_with_a_future_time_changes_nothing(clone):
    """File times decide nothing: a split dated a day ahead (clock skew between hosts
    sharing results/) reruns nothing and deletes nothing."""
    path = clone / "results/splits/random0.json"
    before = path.stat()
    ahead = time.time() + 86400
    os.utime(path, (ahead, ahead))
    try:
        with no_metadata(clone):
            assert planned_jobs(clone) == set()
        assert path.exists() and records.problem(path, records.read(path)["key"]) is None
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_stale_output_dated_in_the_future_is_named_with_its_fix(clone):
    """The one case a note cannot tell Snakemake (its time is not newer than the output):
    the run stops at the start naming the file and what to do, and deletes nothing."""
    from .test_rerun import run_snakemake

    cell = "results/cells/random0/B/transfer/n7/seed0/metrics.json"
    path = clone / cell
    before = path.stat()
    ahead = time.time() + 86400
    with no_metadata(clone), replaced(path, '"top1": ', '"top1": 0.97, "was": '):
        os.utime(path, (ahead, ahead))
        result = run_snakemake(clone, "--dry-run")
        assert path.exists()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert result.returncode != 0
    assert cell in result.stdout + result.stderr and "delete it" in result.stdout + result.stderr


def test_a_docstring_edit_reruns_nothing(clone):
    solver = clone / "workflow/transferability/training/solver.py"
    with replaced(solver, '"""', '"""Reworded. '):
        assert planned_jobs(clone) == set()


def test_a_status_rule_change_reruns_only_the_aggregate_steps(clone):
    status = clone / "workflow/transferability/training/status.py"
    with replaced(status, "MAX_DEAD = 0.9\n", "MAX_DEAD = 0.95\n"):
        assert planned_jobs(clone) == {("aggregate",)} | DOWNSTREAM


def test_a_treatments_colour_reruns_only_the_figures(clone):
    registry = clone / "workflow/transferability/treatments.py"
    with replaced(registry, '"#fc9272", "#fc9272"', '"#fc9273", "#fc9273"'):
        assert planned_jobs(clone) == {("figures",)}


def test_a_new_treatment_changes_no_other_nets_key():
    """A net's key holds its own treatment's entry, not the registry: adding one retrains
    only its own cells."""
    import dataclasses

    from transferability import treatments
    from transferability_runtime import plan

    from .support import tiny_config

    def keys():
        p = plan.Plan(tiny_config(), {"stored": False, "generated": False}, lambda s: s, "data")
        return {t: p.cell("random0", "B", t, 3, 0) for t in treatments.CELL_TREATMENTS}

    before = keys()
    extra = dataclasses.replace(treatments.BY_NAME["transfer"], name="transfer_new")
    saved = treatments.REGISTRY, dict(treatments.BY_NAME), treatments.CELL_TREATMENTS
    treatments.REGISTRY = (*treatments.REGISTRY, extra)
    treatments.BY_NAME["transfer_new"] = extra
    try:
        assert {t: k for t, k in keys().items() if t in before} == before
    finally:
        treatments.REGISTRY, by_name, treatments.CELL_TREATMENTS = saved
        treatments.BY_NAME.clear()
        treatments.BY_NAME.update(by_name)


def test_another_nets_resume_state_is_not_resumed(tmp_path):
    """Case 4: base A's resume state copied to base B's path starts B over."""
    from transferability.training import jobs
    from transferability.training.resume_state import ResumeState

    inputs = {"cache": {"key": "c", "sha256": "1"}, "split": {"key": "s", "sha256": "2"}}
    job_a, job_b = records.Job("train-base", {"key": "a"}), records.Job("train-base", {"key": "b"})
    job_a.read = job_b.read = inputs
    path = tmp_path / "state.pt"
    state_a = jobs._resume(path, {}, 0, ["cache", "split"], "train-base", job_a)
    state_a.save({"epoch": 5})
    assert isinstance(state_a, ResumeState) and path.exists()
    state_b = jobs._resume(path, {}, 0, ["cache", "split"], "train-base", job_b)
    assert state_b.load() is None
    assert jobs._resume(path, {}, 0, ["cache", "split"], "train-base", job_a).load() is not None


def test_a_replaced_image_of_the_same_size_and_time_is_new_content(tmp_path):
    """Case 8: the source digest reads a file again when its ctime or inode changed, which
    no copy tool can keep."""
    root = tmp_path / "images/cat"
    root.mkdir(parents=True)
    image = root / "1.png"
    image.write_bytes(b"a" * 100)
    cache = tmp_path / "sources.json"
    first = records.files_digest([image], tmp_path / "images", cache)
    st = image.stat()
    replacement = tmp_path / "new.png"
    replacement.write_bytes(b"b" * 100)
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    replacement.replace(image)
    assert image.stat().st_size == st.st_size and image.stat().st_mtime_ns == st.st_mtime_ns
    assert records.files_digest([image], tmp_path / "images", cache) != first
    new_class = tmp_path / "images/dog/1.png"
    new_class.parent.mkdir()
    new_class.write_bytes(b"c")
    assert records.files_digest([image, new_class], tmp_path / "images", cache) != first


def test_a_store_with_a_zeroed_middle_third_is_refused(tmp_path, monkeypatch):
    """Case 9: a large file is digested from a sample spread through all of it."""
    monkeypatch.setattr(records, "SAMPLE_ABOVE", 1 << 20)
    monkeypatch.setattr(records, "BLOCK", 1 << 12)
    store = tmp_path / "store.pixels"
    store.write_bytes(os.urandom(3 << 20))
    records.write(store, "k", {}, "store-images")
    with open(store, "r+b") as f:
        f.seek(1 << 20)
        f.write(bytes(1 << 20))
    with pytest.raises(DataError, match="content changed"):
        records.check(store, "k")


def test_an_output_without_a_record_is_refused_naming_the_command(tmp_path):
    made = tmp_path / "split.json"
    made.write_text("{}")
    with pytest.raises(DataError, match="no record of what made it.*--forcerun"):
        records.check(made, None)


def test_the_code_fingerprint_ignores_docstrings_and_counts_every_module_a_step_runs():
    from transferability import provenance

    for step in provenance.STEP_MODULES:
        modules = provenance.modules_of(step)
        assert {"cli", "steps"} <= set(modules), step
    assert "analysis.claims" not in provenance.modules_of("train-cell")
    assert "training.status" in provenance.modules_of("aggregate")
    assert "training.status" not in provenance.modules_of("train-cell")


def test_results_status_reports_each_committed_run(capsys):
    from transferability_runtime import reference

    runs = sorted(str(p.parent) for p in (REPO / "results").glob("*/run.json"))
    assert reference.main(["status", *runs]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(runs)
    for line in lines:
        assert ": fresh" in line or ("stale" in line and "remake:" in line)


def test_a_checkpoint_of_another_net_is_refused(tmp_path):
    """Base B's checkpoint copied to base A's path: a cell loading it by hand stops."""
    import torch

    from transferability.training import jobs

    path = tmp_path / "model.pt"
    torch.save({"identity": jobs.identity("random0", "B", 0, {}), "state_dict": {}}, path)
    with pytest.raises(DataError, match="is base net random0/B seed 0, not random0/A seed 0"):
        jobs.load_checkpoint(path, "random0", "A", 0)


def test_a_second_writer_of_a_net_stops_while_the_first_lives(tmp_path):
    """After the snakemake that started it died, a job keeps training; a second job for the
    same net (--unlock, --rerun-incomplete) stops at once, naming the first one's pid."""
    from transferability.training.resume_state import Busy, one_writer

    state = tmp_path / "resume/base.pt"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; sys.path.insert(0, sys.argv[1]);"
            "from transferability.training.resume_state import one_writer\n"
            "with one_writer(sys.argv[2]):\n print('held', flush=True); time.sleep(60)"
        ), str(REPO / "workflow"), str(state)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match=f"pid {holder.pid}"), one_writer(state):
            pass
    finally:
        holder.kill()
        holder.wait()
    with one_writer(state):  # the kernel dropped the dead holder's lock
        pass


def test_make_results_status_runs_as_the_readme_says():
    done = subprocess.run(
        ["make", "--no-print-directory", "results-status"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    runs = sorted(p.parent.name for p in (REPO / "results").glob("*/run.json"))
    for name in runs:
        assert f"results/{name}: " in done.stdout, done.stdout


def test_the_one_writer_lock_leaves_no_file_behind(tmp_path):
    from transferability.training.resume_state import one_writer

    state = tmp_path / "resume/cell.pt"
    with one_writer(state):
        assert state.with_name("cell.pt.lock").exists()
    assert not [p for p in (tmp_path / "resume").rglob("*") if p.is_file()]
