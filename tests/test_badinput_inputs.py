"""Bad input that used to pass silently or fail with a traceback (issue 31, item 7): images
are read by value, a ground truth of the wrong length is refused, an unusable resume state
is set aside, and configs, HOME and a step run by hand are answered with one line naming
the problem and the fix."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from transferability.errors import DataError

from .support import REPO, snakemake, tiny_config, venv_env

pytestmark = pytest.mark.badinput

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


# --- images: by value, whatever their bit depth ------------------------------------------


def decode_store(path: Path) -> np.ndarray:
    """The store's decode (rule store_images), as (side, side, 3)."""
    from transferability.data.store import decode_resized

    return decode_resized(str(path), 8)


def decode_stream(path: Path) -> np.ndarray:
    """The streamed decode (dataset.store: false), centre crop, as (side, side, 3)."""
    from transferability.data.imagefolder import _load

    return _load(str(path), 8, 8, None).permute(1, 2, 0).numpy()


def grey_image(tmp_path: Path, mode: str, value: float) -> Path:
    """A 16 x 16 image of one grey value, written in a format that keeps `mode`."""
    from PIL import Image

    dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
    image = Image.fromarray(np.full((16, 16), value, dtype=dtype))
    assert image.mode == mode
    path = tmp_path / f"grey.{'png' if mode == 'I;16' else 'tiff'}"
    image.save(path)
    return path


@pytest.mark.parametrize("decode", [decode_store, decode_stream], ids=["store", "stream"])
@pytest.mark.parametrize("mode, mid_grey", [("I;16", 32768), ("I", 32768), ("F", 0.5)])
def test_a_mid_grey_image_of_more_than_8_bits_is_read_as_mid_grey(tmp_path, decode, mode, mid_grey):
    """convert("RGB") clipped a 16-bit grey of 32768 to 255: the image was stored white."""
    pixels = decode(grey_image(tmp_path, mode, mid_grey))
    assert pixels.shape == (8, 8, 3)
    assert set(np.unique(pixels)) <= {127, 128}


def test_an_8_bit_image_reads_as_before(tmp_path):
    """The 16-bit path leaves ordinary images alone: the same bytes as convert("RGB")."""
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path / "rgb.png"
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BILINEAR))
    assert np.array_equal(decode_store(path), expected)


def test_float_pixels_with_no_range_to_scale_by_are_refused_naming_the_file(tmp_path):
    path = grey_image(tmp_path, "F", 200.0)
    with pytest.raises(DataError) as refused:
        decode_store(path)
    assert str(refused.value).startswith(f"{path}: F pixels from 200 to 200, outside 0..1")
    assert "save it as 8-bit" in str(refused.value)


# --- prepare-ilsvrc-val: one label per image, and the documented command as written ------


def devkit_and_images(tmp_path: Path, labels: int, images: int, monkeypatch) -> list[str]:
    """A devkit with `labels` ground-truth lines and a flat val folder of `images` images;
    the arguments of prepare-ilsvrc-val for them. meta.mat is stood in for (test_pipeline.py
    reads a real one): every ID is class n01440764."""
    from PIL import Image

    from transferability.data import ilsvrc_val

    devkit, flat = tmp_path / "devkit", tmp_path / "val_flat"
    (devkit / "data").mkdir(parents=True)
    flat.mkdir()
    (devkit / ilsvrc_val.GROUND_TRUTH).write_text("1\n" * labels)
    for i in range(1, images + 1):
        Image.new("RGB", (4, 4)).save(flat / ilsvrc_val.VAL_NAME.format(i))
    monkeypatch.setattr(ilsvrc_val, "id_to_wnid", lambda _: {1: "n01440764"})
    return ["--devkit", str(devkit), "--val-dir", str(flat), "--out", str(tmp_path / "val")]


@pytest.mark.parametrize("labels, images", [(4, 5), (6, 5)], ids=["shorter", "longer"])
def test_a_ground_truth_of_another_length_than_the_images_is_refused_with_both_counts(
    tmp_path, capsys, monkeypatch, labels, images
):
    """A short ground truth sorted what it could and exited 0, the rest never mentioned."""
    from transferability.cli import main

    argv = devkit_and_images(tmp_path, labels, images, monkeypatch)
    assert main(["prepare-ilsvrc-val", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"has {labels} labels" in err and f"has {images} images" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devkit", "val_flat"]


def documented(page: str, step: str) -> list[str]:
    """The command a docs page shows for `step`, up to the step's name."""
    text = (REPO / page).read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if f" {step} " in line and "python" in line)
    words = shlex.split(line)
    return words[: words.index(step) + 1]


def test_the_documented_prepare_ilsvrc_val_command_runs_as_written_from_the_repository():
    """`.venv/bin/python -m transferability ...` failed without PYTHONPATH=workflow."""
    command = documented("docs/full-scale.md", "prepare-ilsvrc-val")
    assert command[0] == ".venv/bin/python"
    env = {k: v for k, v in venv_env().items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, *command[1:], "--help"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "--devkit DEVKIT" in run.stdout and "--val-dir VAL_DIR" in run.stdout


# --- a resume state that cannot be loaded ------------------------------------------------


def saved_state(tmp_path: Path):
    """A resume state saved by a real run killed after epoch 1, with its net and solver."""
    from transferability.training.resume_state import ResumeState
    from transferability.training.sgd import MomentumSGD
    from transferability.training.solver import train

    from .support import RECIPE, net, tiny_data

    class Killed(Exception):
        pass

    def kill_at_epoch_2(line: str) -> None:
        if line.startswith("epoch 2:"):
            raise Killed

    state = ResumeState(tmp_path / "state.pt", key="net", log=lambda _: None)
    with pytest.raises(Killed):
        train(net(7), tiny_data(1), RECIPE, 0, seed=3, log=kill_at_epoch_2, resume=state)
    fresh = net(7)
    return state, fresh, MomentumSGD(list(fresh.parameters()), 0.9, 5e-4)


def test_a_resume_state_that_fits_its_net_is_resumed(tmp_path):
    state, fresh, optimizer = saved_state(tmp_path)
    assert state.load(fresh, optimizer)["epoch"] == 1


def test_a_resume_state_one_momentum_tensor_short_is_set_aside_with_one_warning(tmp_path):
    """It raised a RuntimeError at the first step, and stayed: every rerun failed alike."""
    from transferability.training.resume_state import ResumeState

    state, fresh, optimizer = saved_state(tmp_path)
    saved = state.load()
    state.save(saved | {"momentum": saved["momentum"][:-1]})
    lines: list[str] = []
    assert ResumeState(state.path, "net", log=lines.append).load(fresh, optimizer) is None
    assert not state.path.exists()
    assert state.path.with_name("state.pt.unusable").is_file()
    assert len(lines) == 1 and str(state.path) in lines[0]
    count = len(optimizer.params)
    assert f"({count - 1} momentum tensors for the {count} trained parameters)" in lines[0]
    assert lines[0].endswith("training starts over from epoch 1")


# --- a boolean written as text -----------------------------------------------------------


def test_a_boolean_written_false_with_dash_dash_config_is_answered_with_the_spelling(tmp_path):
    """It was answered with a note about values inside [ ] or { }."""
    result = snakemake(tmp_path, "--dry-run", "--config", "smoke_report=false", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "smoke_report: 'false' is not of type 'boolean'" in out
    assert "write `--config smoke_report=False`, or `smoke_report: false` in a YAML file" in out
    assert "[ ]" not in out
    assert snakemake(tmp_path, "--dry-run", "--config", "smoke_report=False").returncode == 0


def test_a_quoted_false_in_a_config_file_is_answered_with_the_spelling():
    from transferability_runtime.configcheck import schema_problems

    config = yaml.safe_load((REPO / "config/config.yaml").read_text()) | {"smoke_report": "no"}
    assert schema_problems(config, SCHEMA) == [
        "smoke_report: 'no' is not of type 'boolean'; write false without quotes (quoted, YAML "
        "reads it as text)"
    ]


# --- a config file with no settings ------------------------------------------------------


def test_an_empty_config_file_is_named_with_the_fix(tmp_path):
    """Snakemake said only "Config file must be given as JSON or YAML with keys at top
    level", naming no file."""
    from transferability_runtime.configcheck import empty_config_files

    files = {"empty": "", "comments": "# seeds: [0]\n", "list": "- seeds\n", "good": "seeds: [0]\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    problems = empty_config_files([tmp_path / f"{name}.yaml" for name in files])
    assert [p.split(":")[0] for p in problems] == [
        str(tmp_path / f"{name}.yaml") for name in ("empty", "comments", "list")
    ]
    assert "is empty (or only comments); give it a setting" in problems[0]
    assert "holds a list, not `key: value` lines" in problems[2]


def test_the_config_file_check_runs_as_a_command_from_the_repository(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    env = {k: v for k, v in venv_env().items() if k != "PYTHONPATH"}
    command = [sys.executable, "-m", "workflow.transferability_runtime.configcheck", str(empty)]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.startswith(f"error: {empty}: the config file is empty")


# --- results inside the repository -------------------------------------------------------


REPO_FOLDERS = ["workflow", "config", "envs", "tests", "docs", "profiles", "slurm", "benchmarks"]


@pytest.mark.parametrize("results", [".", str(REPO), "workflow/", "config/run", *REPO_FOLDERS])
def test_results_in_the_repositorys_own_folders_is_refused(monkeypatch, results):
    """`results: .` or `results: workflow` mixed a run's outputs into the code."""
    from transferability_runtime.configcheck import results_problem

    monkeypatch.chdir(REPO)
    problem = results_problem(results, REPO)
    assert problem is not None and problem.startswith(f"results: {results} is ")
    assert "set `results:` to results or a folder under it" in problem


@pytest.mark.parametrize("results", ["results", "./results", "results/myrun", "outside"])
def test_results_under_results_or_outside_the_repository_is_allowed(monkeypatch, tmp_path, results):
    from transferability_runtime.configcheck import results_problem

    monkeypatch.chdir(REPO)
    where = str(tmp_path / results) if results == "outside" else results
    assert results_problem(where, REPO) is None


# --- HOME that cannot be written ---------------------------------------------------------


def test_a_step_where_home_cannot_be_written_draws_with_one_line_naming_home(tmp_path):
    """matplotlib fell back to a temporary cache with a two-line warning naming neither HOME
    nor the fix. A file as HOME: no folder can be made under it, even as root."""
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    env = venv_env() | {"HOME": str(home), "PYTHONPATH": str(REPO / "workflow")}
    for name in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env.pop(name, None)
    # `python -m transferability figures ...` (its table missing: it stops after importing
    # matplotlib), then what it imported and where matplotlib's cache went.
    probe = (
        "import os, runpy, sys\n"
        "try:\n    runpy.run_module('transferability', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('matplotlib' in sys.modules, os.environ['MPLCONFIGDIR'])\n"
    )
    figures = ["figures", "--table", "none.parquet", "--figure2", "2.png", "--figure3", "3.png"]
    run = subprocess.run(
        [sys.executable, "-c", probe, *figures],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    imported, folder = run.stdout.split()
    assert imported == "True", run.stderr
    assert "Matplotlib created a temporary" not in run.stderr and "mkdir" not in run.stderr
    note = [line for line in run.stderr.splitlines() if line.startswith("note: ")]
    assert len(note) == 1 and f"(HOME is {home})" in note[0] and "set MPLCONFIGDIR" in note[0]
    assert not Path(folder).exists(), "the temporary folder is removed at exit"


def test_snakemake_where_home_cannot_be_written_is_answered_with_xdg_cache_home(tmp_path):
    """Snakemake's own source cache (~/.cache/snakemake) stops it with a traceback before
    it reads the Snakefile; the wrapper's check says what to set."""
    from transferability_runtime.homecheck import snakemake_cache_problem

    home = tmp_path / "home-is-a-file"
    home.write_text("")
    problem = snakemake_cache_problem({"HOME": str(home)})
    assert problem.startswith(f"HOME: {home} is not a writable folder")
    assert "export XDG_CACHE_HOME=" in problem
    writable = {"HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert snakemake_cache_problem(writable) is None


# --- a step run by hand without its settings ---------------------------------------------


def test_train_base_without_settings_names_what_is_missing_and_the_fix():
    """`python -m transferability train-base ...` without --settings: `KeyError: 'model'`."""
    from transferability.settings_check import settings_problem

    problem = settings_problem("train-base", {})
    assert problem.startswith("train-base: no --settings given (it needs model, recipe); ")
    assert "pass --settings with the JSON of the net's resolved settings" in problem
    assert "`snakemake -n -p -f results/base/random0/A/seed0/metrics.json`" in problem


def test_the_settings_check_asks_for_exactly_what_a_training_job_reads():
    """The workflow's settings pass, and each key the check requires is one the job cannot
    do without (Recipe.from_config raises without it)."""
    from transferability import grid
    from transferability.settings_check import RECIPE, settings_problem
    from transferability.training.sgd import Recipe

    settings = grid.train_settings(tiny_config(), "base")
    assert settings_problem("train-base", settings) is None
    for key in RECIPE:
        without = {k: v for k, v in settings["recipe"].items() if k != key}
        with pytest.raises(KeyError):
            Recipe.from_config(without)
        assert f"--settings lacks recipe.{key};" in settings_problem(
            "train-cell", settings | {"recipe": without}
        )
    assert json.dumps(settings)  # what the rule passes is plain JSON


def test_a_settings_value_that_is_not_an_object_is_refused():
    from transferability.settings_check import settings_problem

    assert settings_problem("train-base", [1]).startswith(
        "train-base: --settings is a list, not a JSON object"
    )
