"""Results that know what made them: a plain run retrains what changed without Snakemake's
metadata, the aggregate step refuses a stale net, a resume state saved by other code is not
resumed, and a base checkpoint copied over another net's is refused.

The workflow tests share one complete tiny run (test_rerun.py's grid: random0, n = 1 and
7, one seed; 2 base nets and 20 cells) and each works on a copy of it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .support import (
    FASHION_MNIST_ROOT,
    TINY_GRID,
    copy_repository,
    snakemake,
    tiny_config,
    train_base_argv,
)

pytestmark = pytest.mark.provenance

TINY = TINY_GRID
BASE_EPOCHS_2 = {"training": {"base": {"epochs": 2}}}
# A base-recipe change: the 2 base nets and the 16 cells that copy from them (not the 4
# frozen-random cells), then the 4 table jobs.
RETRAINED = {"train_base": 2, "train_cell": 16, "aggregate": 1, "figures": 1, "claims": 1}


def run(clone: Path, *configs: str, args=(), timeout: float = 900):
    return snakemake(
        clone, "--cores", "2", "--configfile", "tiny.yaml", *configs, *args, clone=True,
        timeout=timeout,
    )  # fmt: skip


def job_counts(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> Path:
    if not FASHION_MNIST_ROOT.is_dir():
        pytest.fail("install Debian's dataset-fashion-mnist first (make data)")
    root = copy_repository(tmp_path_factory.mktemp("provenance"))
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = run(root)
    assert result.returncode == 0, result.stderr[-5000:]
    return root


@pytest.fixture
def clone(complete, tmp_path) -> Path:
    """A copy of the complete run, modification times kept."""
    return Path(shutil.copytree(complete, tmp_path / "clone", symlinks=True))


def retrained_with(clone: Path, change: dict) -> dict[str, int]:
    (clone / "change.yaml").write_text(yaml.safe_dump(change))
    result = run(clone, "change.yaml")
    assert result.returncode == 0, result.stderr[-5000:]
    counts = job_counts(result.stdout + result.stderr)
    table = pd.read_parquet(clone / "results/summary.parquet")
    assert set(table.loc[table["treatment"] == "base", "recipe_epochs"]) == {2}
    return {k: v for k, v in counts.items() if k in RETRAINED}


def test_a_config_change_after_removing_dot_snakemake_retrains_what_it_changes(clone):
    """`rm -rf .snakemake` (a common way to clear a lock) used to make a changed config
    "Nothing to be done", and the table then showed nets of the old settings."""
    shutil.rmtree(clone / ".snakemake")
    assert retrained_with(clone, BASE_EPOCHS_2) == RETRAINED


def test_a_config_change_with_results_spelled_dot_slash_retrains_what_it_changes(clone):
    assert retrained_with(clone, {"results": "./results", **BASE_EPOCHS_2}) == RETRAINED


def test_a_dry_run_says_when_settings_changed_that_snakemake_cannot_see(clone):
    shutil.rmtree(clone / ".snakemake")
    (clone / "change.yaml").write_text(yaml.safe_dump(BASE_EPOCHS_2))
    result = run(clone, "change.yaml", args=("--dry-run",))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the settings of 19 jobs differ from their settings files" in result.stderr
    assert "a real run reruns them" in result.stderr


def test_a_checkpoint_copied_over_another_nets_is_refused(clone):
    base = clone / "results/base/random0"
    shutil.copy(base / "B/seed0/model.pt", base / "A/seed0/model.pt")
    result = run(clone)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        "results/base/random0/A/seed0/model.pt: this checkpoint is base net random0/B seed 0, "
        "not random0/A seed 0 as its path says" in out
    ), out[-3000:]


def test_the_aggregate_step_refuses_a_net_of_other_settings(clone):
    """A metrics file that does not match what the config now gives (here edited, as a
    file copied in from another run would be) stops the tables, naming it and the fix."""
    path = clone / "results/cells/random0/B/transfer/n7/seed0/metrics.json"
    record = json.loads(path.read_text())
    record["settings"]["recipe"]["lr"] = 0.5
    path.write_text(json.dumps(record))
    result = run(clone)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "1 net was trained with other settings or code" in out, out[-3000:]
    assert "recipe.lr 0.5 there, 0.005 now" in out
    assert (
        "snakemake --cores all --forcerun results/cells/random0/B/transfer/n7/seed0/metrics.json"
        in out
    )


# --- without snakemake ----------------------------------------------------------------


def test_a_resume_state_saved_by_other_code_is_not_resumed(
    fake_cache, split_file, tmp_path, monkeypatch, capsys
):
    """Killed after epoch 1, the code changed, run again: it starts over (the epochs saved
    were not this code's); with the code unchanged it resumes."""
    from transferability import provenance
    from transferability.training import jobs

    class Killed(Exception):
        pass

    real_train = jobs.train

    def killed_in_epoch_2(*args, **kwargs):
        def log(line):
            if line.startswith("epoch 2:"):
                raise Killed
            print(line)

        return real_train(*args, **kwargs, log=log)

    argv = train_base_argv(fake_cache, split_file, tmp_path / "out", epochs=3)
    settings = json.loads(argv[argv.index("--settings") + 1])
    kwargs = dict(
        cache=fake_cache, split_file=split_file, split="random0", half="A", seed=0,
        settings=settings, threads=1, out_model=tmp_path / "out/model.pt",
        out_metrics=tmp_path / "out/metrics.json", resume_state=tmp_path / "resume.pt",
    )  # fmt: skip

    def kill_then_rerun(fingerprint: str) -> dict:
        monkeypatch.setattr(jobs, "train", killed_in_epoch_2)
        with pytest.raises(Killed):
            jobs.train_base(**kwargs)
        assert (tmp_path / "resume.pt").exists()
        monkeypatch.setattr(jobs, "train", real_train)
        monkeypatch.setattr(provenance, "code_fingerprint", lambda step: fingerprint)
        return jobs.train_base(**kwargs)

    same = provenance.code_fingerprint("train-base")
    assert kill_then_rerun(same)["resumed_from_epoch"] == 1
    record = kill_then_rerun("0123456789abcdef")
    assert not record["resumed_from_epoch"]
    assert "saved by other settings or code; starting over" in capsys.readouterr().out


def test_a_cell_refuses_a_base_trained_with_other_settings(fake_cache, split_file, tmp_path):
    """The cell's settings file names its base net's settings key; a checkpoint of the
    right net but other settings (a stale base) is refused."""
    from transferability import grid, jobsettings
    from transferability.errors import DataError
    from transferability.training import jobs

    config = tiny_config()
    nets = jobsettings.NetSettings(config, lambda step: "code")
    base_args = train_base_argv(fake_cache, split_file, tmp_path / "base")
    base_settings = json.loads(base_args[base_args.index("--settings") + 1])
    jobs.train_base(
        cache=fake_cache, split_file=split_file, split="random0", half="A", seed=0,
        settings=base_settings, threads=1, out_model=tmp_path / "base/model.pt",
        out_metrics=tmp_path / "base/metrics.json",
    )  # fmt: skip
    content = nets.cell("random0", "A", "selffer", 3, 0)
    (tmp_path / "cell.json").write_text(jobsettings.text(content))
    with pytest.raises(DataError, match="trained with other settings or code") as caught:
        jobs.train_cell(
            cache=fake_cache, split_file=split_file, split="random0", target="A",
            treatment="selffer", n=3, seed=0, base=tmp_path / "base/model.pt",
            settings=grid.train_settings(config, "selffer"), threads=1,
            out_metrics=tmp_path / "cell/metrics.json", provenance=tmp_path / "cell.json",
        )  # fmt: skip
    assert str(tmp_path / "base/model.pt") in str(caught.value)
    assert "delete it so it is retrained" in str(caught.value)


def test_a_settings_file_is_rewritten_only_when_its_content_changes(tmp_path):
    """Unchanged: untouched (its time too). Changed: newer than the outputs, so the job
    reruns. Changed back to what the outputs record: older than them, so nothing reruns."""
    from transferability import jobsettings

    metrics = tmp_path / "metrics.json"
    first = jobsettings.keyed({"settings": {"lr": 1}})
    metrics.write_text(json.dumps({"provenance_key": first["key"]}))
    path = tmp_path / "settings.json"

    def sync(content):
        return jobsettings.sync(
            path, content, [str(metrics)], lambda: jobsettings.recorded_key(metrics)
        )

    assert sync(first) == "kept"  # outputs made before the file existed, and they match
    assert path.stat().st_mtime_ns < metrics.stat().st_mtime_ns
    stamp = path.stat().st_mtime_ns
    assert sync(first) == "same" and path.stat().st_mtime_ns == stamp
    assert sync(jobsettings.keyed({"settings": {"lr": 2}})) == "changed"
    assert path.stat().st_mtime_ns >= metrics.stat().st_mtime_ns
    assert sync(first) == "kept"
    assert path.stat().st_mtime_ns < metrics.stat().st_mtime_ns
