"""Bad input: configs fail at start, before any job runs, naming the key and the fix;
bad files fail the job that reads them with one line naming the file and the fix."""

import ast
import errno
import gzip
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from transferability.errors import DataError

from .support import (
    REPO,
    copy_repository,
    snakemake,
    tiny_config,
    train_base_argv,
    venv_env,
    write_idx,
)

pytestmark = pytest.mark.badinput

UPPER = ["T-shirt/top", "Pullover", "Dress", "Coat", "Shirt"]
OTHER = ["Trouser", "Sandal", "Sneaker", "Bag", "Ankle boot"]


def fails_at_start(tmp_path, config: dict) -> str:
    result = snakemake(tmp_path, "--dry-run", config=config, timeout=120)
    assert result.returncode != 0
    assert not (tmp_path / "results").exists(), "nothing may be written before the check"
    return result.stdout + result.stderr


def test_unknown_config_key(tmp_path):
    out = fails_at_start(tmp_path, {"training": {"base": {"epoch": 3}}})
    assert "training.base.epoch: unknown key" in out and "'epochs'" in out


def test_unknown_top_level_key(tmp_path):
    out = fails_at_start(tmp_path, {"layer": [1, 2]})
    assert "layer: unknown key" in out and "'layers'" in out


@pytest.mark.parametrize("n", [0, 8])
def test_n_out_of_range(tmp_path, n):
    out = fails_at_start(tmp_path, {"layers": [1, n]})
    assert f"layers.1: {n} is" in out and "1..7" in out


def test_unknown_treatment(tmp_path):
    out = fails_at_start(tmp_path, {"treatments": ["transfer", "AnB"]})
    assert "treatments.1: 'AnB' is not one of" in out


def test_unknown_treatment_of_a_recipe_override(tmp_path):
    out = fails_at_start(tmp_path, {"training": {"by_treatment": {"random_papr": {"lr": 0.001}}}})
    assert "training.by_treatment: 'random_papr' is not one of" in out and "'random_paper'" in out


def test_overlapping_groups(tmp_path):
    config = {"splits": {"dissimilar": {"A": [*UPPER, "Bag"], "B": OTHER}}}
    out = fails_at_start(tmp_path, config)
    assert "splits.dissimilar" in out and "['Bag'] are in both A and B" in out


def test_unknown_class_name(tmp_path):
    config = {"splits": {"dissimilar": {"A": [*UPPER[:-1], "Shirts"], "B": OTHER}}}
    out = fails_at_start(tmp_path, config)
    assert "splits.dissimilar.A: unknown class name 'Shirts'" in out
    assert "did you mean 'Shirt'" in out


def test_missing_data_path(tmp_path):
    out = fails_at_start(tmp_path, {"dataset": {"root": str(tmp_path / "no-such-folder")}})
    assert "dataset.root" in out and "does not exist" in out
    assert "apt-get install dataset-fashion-mnist" in out


def test_no_split_at_all(tmp_path):
    out = fails_at_start(tmp_path, {"splits": {"random": 0, "dissimilar": {"enabled": False}}})
    assert "splits: no split to run" in out


def test_wrong_type(tmp_path):
    out = fails_at_start(tmp_path, {"training": {"base": {"lr": "fast"}}})
    assert "training.base.lr: 'fast' is not of type 'number'" in out


def test_a_number_yaml_reads_as_text(tmp_path):
    """YAML 1.1 (PyYAML, Snakemake) reads `lr: 1e-3` as the string '1e-3'."""
    (tmp_path / "lr.yaml").write_text("training:\n  base:\n    lr: 1e-3\n")
    result = snakemake(tmp_path, "--dry-run", "--configfile", str(tmp_path / "lr.yaml"))
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "training.base.lr: '1e-3' is not of type" in out
    assert "write it as 1.0e-3" in out


def test_a_clone_under_a_folder_with_braces(tmp_path):
    """Snakemake formats the rules' conda: paths (absolute) with the wildcards."""
    clone = copy_repository(tmp_path / "x{w}" / "clone")
    result = snakemake(tmp_path, "--dry-run", snakefile=clone / "Snakefile", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "has braces in its path" in out and "NameError" not in out


# ---------------------------------------------------------------------------------------
# Bad files, through the command each rule runs (`python -m transferability STEP`): the
# step exits 1 with one line naming the file and the fix (no traceback), and leaves no
# output, nor a temporary file beside it, that Snakemake could take as complete.


def run_step(capsys, *argv: str) -> tuple[int, str]:
    from transferability.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err


def fails_cleanly(capsys, argv: list[str], *outputs: Path) -> str:
    code, err = run_step(capsys, *argv)
    assert code == 1, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for out in outputs:
        assert not out.exists(), f"{out} left behind"
        if out.parent.exists():
            assert not list(out.parent.glob(f".{out.stem}.tmp*")), "temporary file left behind"
    return err


def dataset_settings(root: Path) -> str:
    return json.dumps(
        {"name": "fashion_mnist", "root": str(root), "download": False, "download_root": "x"}
    )


def prepare(capsys, root: Path, out: Path) -> str:
    argv = ["prepare-data", "--settings", dataset_settings(root), "--out", str(out)]
    return fails_cleanly(capsys, argv, out)


@pytest.fixture
def raw(fake_fashion_mnist, tmp_path) -> Path:
    """A private copy of the fake Fashion-MNIST files, free to damage."""
    return Path(shutil.copytree(fake_fashion_mnist, tmp_path / "raw"))


def test_truncated_gz_file(capsys, raw, tmp_path):
    target = raw / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:700])
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert str(target) in err and "truncated or corrupt" in err


def test_corrupt_gz_stream(capsys, raw, tmp_path):
    target = raw / "t10k-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    for i in range(40, len(data) - 20, 97):  # damage the deflate stream, keep the header
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert str(target) in err and "re-install the dataset" in err


def test_a_gz_name_on_a_file_that_is_not_gzip(capsys, raw, tmp_path):
    target = raw / "train-labels-idx1-ubyte.gz"
    target.write_text("<html>404 Not Found</html>")
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert str(target) in err and "truncated or corrupt" in err


def test_an_idx_file_with_a_bad_magic_number(capsys, raw, tmp_path):
    target = raw / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + bytes(100)))  # float data, not bytes
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert str(target) in err and "not an IDX file of unsigned bytes" in err


def test_an_idx_file_shorter_than_its_header_says(capsys, raw, tmp_path):
    target = raw / "train-images-idx3-ubyte.gz"
    target.write_bytes(gzip.compress(gzip.decompress(target.read_bytes())[:-28]))
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert str(target) in err and "header says shape (300, 28, 28)" in err


def test_images_of_the_wrong_shape(capsys, raw, tmp_path):
    write_idx(raw / "t10k-images-idx3-ubyte.gz", np.zeros((100, 32, 32)))
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert "t10k-images" in err and "shape (32, 32), expected (28, 28)" in err


def test_fewer_labels_than_images(capsys, raw, tmp_path):
    write_idx(raw / "train-labels-idx1-ubyte.gz", np.zeros(299))
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert "train-labels" in err and "299 labels for 300 images" in err


def test_a_label_outside_the_ten_classes(capsys, raw, tmp_path):
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.full(100, 12))
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert "t10k-labels" in err and "label 12 out of range" in err


def test_a_data_file_without_read_permission(capsys, raw, tmp_path, monkeypatch):
    """The tests run as root, whom chmod does not stop: the open is refused instead."""
    target = raw / "train-labels-idx1-ubyte.gz"
    real_open = gzip.open

    def denied(path, *args, **kwargs):
        if Path(path) == target:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(gzip, "open", denied)
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert str(target) in err and "no permission to read it" in err and "chmod a+r" in err
    assert "re-install" not in err


@pytest.mark.parametrize("kind", ["dangling symlink", "folder"])
def test_an_idx_file_that_is_not_a_file(capsys, raw, tmp_path, kind):
    target = raw / "t10k-images-idx3-ubyte.gz"
    target.unlink()
    if kind == "folder":
        target.mkdir()
    else:
        target.symlink_to(tmp_path / "moved-away.gz")
    err = prepare(capsys, raw, tmp_path / "cache.pt")
    assert str(target) in err and "not an IDX file" in err
    assert ("does not exist" if kind != "folder" else "a folder") in err
    out = fails_at_start(tmp_path / "run", {"dataset": {"root": str(raw)}})
    assert str(target) in out and "not an IDX file" in out


def test_a_data_folder_without_the_files(capsys, tmp_path):
    err = prepare(capsys, tmp_path, tmp_path / "cache.pt")
    assert "dataset.root" in err and "apt-get install dataset-fashion-mnist" in err


def test_disk_full_while_writing_the_cache(capsys, raw, tmp_path, monkeypatch):
    """ENOSPC half-way through torch.save: no cache, no temporary file, one clear line."""
    import torch

    def half_then_full(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", half_then_full)
    out = tmp_path / "out" / "cache.pt"
    err = prepare(capsys, raw, out)
    assert str(out) in err and "no space left" in err and "free some space" in err
    assert list(out.parent.iterdir()) == []


def test_disk_full_while_writing_a_split_file(tmp_path, monkeypatch):
    from transferability.data import splits

    def full(self, text, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    out = tmp_path / "random0.json"
    with pytest.raises(DataError, match="random0.json: no space left"):
        splits.write_split({"split": "random0"}, out)
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_are_not_disguised_as_a_full_disk(tmp_path):
    from transferability.atomic import write_atomic

    def denied(tmp):
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError):
        write_atomic(tmp_path / "x.json", denied)
    assert list(tmp_path.iterdir()) == []


# --- split files and the data cache -----------------------------------------------------


def make_split(capsys, cache: Path, out: Path, config: dict | None = None) -> tuple[int, str]:
    from transferability import grid

    settings = grid.split_settings(config or tiny_config(), "random0")
    argv = ["make-split", "--cache", str(cache), "--split", "random0"]
    return run_step(capsys, *argv, "--settings", json.dumps(settings), "--out", str(out))


def train_base_fails(capsys, cache: Path, split: Path, tmp_path: Path) -> str:
    out = tmp_path / "base"
    argv = train_base_argv(cache, split, out)
    return fails_cleanly(capsys, argv, out / "model.pt", out / "metrics.json")


def test_a_corrupt_data_cache(capsys, tmp_path):
    cache = tmp_path / "fashion_mnist.pt"
    cache.write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "random0.json"
    code, err = make_split(capsys, cache, out)
    assert code == 1 and str(cache) in err and "rerun prepare_data" in err
    assert not out.exists()


def test_more_images_asked_for_than_a_class_has(capsys, fake_cache, tmp_path):
    config = tiny_config()
    config["subset"]["train_per_class"] = 40  # the fake data has 30 per class
    out = tmp_path / "random0.json"
    code, err = make_split(capsys, fake_cache, out, config)
    assert code == 1 and "lower subset.*_per_class" in err and not out.exists()


def test_a_split_file_edited_to_overlap(capsys, fake_cache, split_file, tmp_path):
    record = json.loads(split_file.read_text())
    record["halves"]["B"]["class_indices"].append(record["halves"]["A"]["class_indices"][0])
    split_file.write_text(json.dumps(record))
    err = train_base_fails(capsys, fake_cache, split_file, tmp_path)
    assert str(split_file) in err and "in both halves" in err and "delete it" in err


def test_a_truncated_split_file(capsys, fake_cache, split_file, tmp_path):
    split_file.write_text(split_file.read_text()[:200])
    err = train_base_fails(capsys, fake_cache, split_file, tmp_path)
    assert str(split_file) in err and "not a valid split file" in err


def test_a_split_file_made_from_other_data(capsys, fake_cache, split_file, tmp_path):
    record = json.loads(split_file.read_text())
    record["halves"]["A"]["train_idx"].append(59_999)  # the real training set; the fake has 300
    split_file.write_text(json.dumps(record))
    err = train_base_fails(capsys, fake_cache, split_file, tmp_path)
    assert str(fake_cache) in err and "train_idx [59999]" in err and "delete it" in err


def _labels(cache: Path) -> dict[str, list[int]]:
    import torch

    data = torch.load(cache, weights_only=True)
    return {"train": data["train_y"].tolist(), "test": data["test_y"].tolist()}


def _other_half_test_images(record, labels):
    b = set(record["halves"]["B"]["class_indices"])
    record["halves"]["A"]["test_idx"] += [i for i, y in enumerate(labels["test"]) if y in b][:5]


def _val_into_train(record, labels):
    record["halves"]["A"]["train_idx"] += record["halves"]["A"]["val_idx"][:3]


def _other_half_class_in_training(record, labels):
    b = set(record["halves"]["B"]["class_indices"])
    record["halves"]["A"]["train_idx"].append(
        next(i for i, y in enumerate(labels["train"]) if y in b)
    )


def _listed_twice(record, labels):
    record["halves"]["A"]["test_idx"].append(record["halves"]["A"]["test_idx"][0])


def _another_split(record, labels):
    record["split"] = "random1"


def _renamed_class(record, labels):
    record["halves"]["A"]["classes"][0] = "Sock"


def _empty_validation(record, labels):
    record["halves"]["A"]["val_idx"] = []


@pytest.mark.parametrize(
    "edit, message",
    [
        (_other_half_test_images, "test_idx lists 5 images of classes"),
        (_val_into_train, "val_idx has images"),
        (_other_half_class_in_training, "train_idx lists 1 images of classes"),
        (_listed_twice, "more than once"),
        (_another_split, "this job trains on the random split 'random0'"),
        (_renamed_class, "are not the data's classes"),
        (_empty_validation, "val_idx is empty"),
    ],
)
def test_a_hand_edited_split_file(capsys, fake_cache, split_file, tmp_path, edit, message):
    """Each edit once ran to exit 0 with wrong numbers (or an IndexError deep in torch)."""
    record = json.loads(split_file.read_text())
    edit(record, _labels(fake_cache))
    split_file.write_text(json.dumps(record))
    err = train_base_fails(capsys, fake_cache, split_file, tmp_path)
    assert str(split_file) in err and message in err and "delete it so make_split" in err
    assert "IndexError" not in err


# --- checkpoints ---------------------------------------------------------------------------


def train_cell_fails(capsys, cache: Path, split: Path, base: Path, tmp_path: Path) -> str:
    from transferability import grid

    out = tmp_path / "cell" / "metrics.json"
    settings = json.dumps(grid.train_settings(tiny_config(), "transfer"))
    argv = [
        "train-cell", "--cache", str(cache), "--split-file", str(split), "--split", "random0",
        "--target", "B", "--treatment", "transfer", "--n", "3", "--seed", "0",
        "--base", str(base), "--settings", settings, "--out-metrics", str(out),
    ]  # fmt: skip
    return fails_cleanly(capsys, argv, out)


def test_a_checkpoint_from_another_architecture(capsys, fake_cache, split_file, tmp_path):
    import torch

    from transferability.training.jobs import identity
    from transferability.training.models import TransferNet

    other = TransferNet("small28", 5, 1, [8, 16, 24, 24, 16, 64, 64])
    base = tmp_path / "model.pt"
    said = identity("random0", "A", 0, {})  # the net train_cell_fails asks for
    torch.save({"identity": said, "state_dict": other.state_dict()}, base)
    err = train_cell_fails(capsys, fake_cache, split_file, base, tmp_path)
    assert str(base) in err and "has shape" in err and "model.layout/model.widths" in err


def test_a_corrupt_checkpoint(capsys, fake_cache, split_file, tmp_path):
    base = tmp_path / "model.pt"
    base.write_bytes(b"\x80\x04garbage, a checkpoint cut short")
    err = train_cell_fails(capsys, fake_cache, split_file, base, tmp_path)
    assert str(base) in err and "delete it so it is retrained" in err


class Payload:
    """What a malicious checkpoint would carry: unpickling it runs code."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_checkpoint_that_would_run_code_is_refused(capsys, fake_cache, split_file, tmp_path):
    """weights_only=True: a pickle naming arbitrary callables is never executed."""
    import torch

    base = tmp_path / "model.pt"
    torch.save({"conv1.weight": Payload()}, base)
    err = train_cell_fails(capsys, fake_cache, split_file, base, tmp_path)
    assert str(base) in err and "cannot load the base-net checkpoint" in err
    assert not Path("pwned").exists() and not (tmp_path / "pwned").exists()


def test_a_corrupt_metrics_file_stops_aggregate(capsys, tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(GOOD_METRICS))
    bad.write_text('{"split": "random0", "top1": 0.')
    table = tmp_path / "summary.parquet"
    argv = ["aggregate", "--metrics", str(good), str(bad), "--out-table", str(table)]
    err = fails_cleanly(capsys, [*argv, "--out-csv", str(tmp_path / "s.csv")], table)
    assert str(bad) in err and "delete it so its net is retrained" in err


GOOD_METRICS = {
    "split": "random0", "split_kind": "random", "target": "B", "source": "A",
    "treatment": "transfer", "n": 7, "seed": 0, "top1": 0.5, "val_top1": 0.6,
    "diverged": False, "chance": 0.2, "epochs": 1, "best_epoch": 1, "train_seconds": 1.0,
}  # fmt: skip
CELL = "results/cells/random0/B/transfer/n7/seed0/metrics.json"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"top1": 1.7}, "top1 is 1.7, not a fraction in [0, 1]"),
        ({"val_top1": -0.1}, "val_top1 is -0.1"),
        ({"top1": "0.5"}, "top1 is '0.5'"),
        ({"top1": None}, "top1 is None"),
        ({"n": 3}, "its record says {'n': 3}"),
        ({"treatment": "selffer"}, "its record says {'treatment': 'selffer'}"),
        ({"seed": 1, "split": "dissimilar"}, "its record says"),
    ],
)
def test_an_impossible_metrics_file_stops_aggregate(capsys, tmp_path, change, message):
    bad = tmp_path / CELL
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps(GOOD_METRICS | change))
    table = tmp_path / "summary.parquet"
    argv = ["aggregate", "--metrics", str(bad), "--out-table", str(table)]
    err = fails_cleanly(capsys, [*argv, "--out-csv", str(tmp_path / "s.csv")], table)
    assert str(bad) in err and message in err and "delete it so its net is retrained" in err


def test_a_metrics_file_missing_a_key(capsys, tmp_path):
    bad = tmp_path / CELL
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({k: v for k, v in GOOD_METRICS.items() if k != "val_top1"}))
    argv = ["aggregate", "--metrics", str(bad), "--out-table", str(tmp_path / "t.parquet")]
    err = fails_cleanly(capsys, [*argv, "--out-csv", str(tmp_path / "s.csv")])
    assert str(bad) in err and "keys ['val_top1'] are missing" in err


def test_a_good_metrics_file_under_results_is_read(tmp_path):
    from transferability.analysis.results_table import read_metrics

    good = tmp_path / CELL
    good.parent.mkdir(parents=True)
    good.write_text(json.dumps(GOOD_METRICS))
    base = tmp_path / "results/base/random0/A/seed0/metrics.json"
    base.parent.mkdir(parents=True)
    record = GOOD_METRICS | {"target": "A", "treatment": "base", "n": 0}
    base.write_text(json.dumps(record))
    assert len(read_metrics([good, base])) == 2


# --- the net and the data ---------------------------------------------------------------


@pytest.mark.parametrize("model", [{"in_channels": 3}, {"layout": "alexnet32"}])
def test_a_model_that_does_not_fit_the_data(capsys, fake_cache, split_file, tmp_path, model):
    from transferability import grid

    config = tiny_config()
    config["model"] |= model
    if "layout" in model:
        config["model"].pop("widths")
    out = tmp_path / "base"
    argv = train_base_argv(fake_cache, split_file, out)
    argv[argv.index("--settings") + 1] = json.dumps(grid.train_settings(config, "base"))
    err = fails_cleanly(capsys, argv, out / "model.pt", out / "metrics.json")
    assert "model.layout/model.in_channels" in err and str(fake_cache) in err
    assert "(1, 28, 28)" in err and "small28" in err


# --- safety ---------------------------------------------------------------------------------


def test_every_torch_load_is_weights_only():
    """Checkpoints and caches are data: no torch.load may unpickle arbitrary objects."""
    calls = []
    for path in [*(REPO / "workflow").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "load"
                and getattr(node.func.value, "id", None) == "torch"
            ):
                flags = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
                calls.append((path.name, node.lineno, flags.get("weights_only")))
    assert calls, "expected torch.load calls to check"
    assert all(weights_only is True for *_, weights_only in calls), calls


def test_a_data_path_with_spaces_quotes_and_braces_reaches_the_jobs_intact(tmp_path):
    """Config values go to the shell quoted, and to Snakemake's params unformatted:
    prepare_data and make_split run on a Fashion-MNIST root at `my data/it's "here" {y}`,
    inside a work folder with a space. Raw data replaced afterwards remakes the cache."""
    from .support import make_fake_fashion_mnist

    workdir = tmp_path / "work dir"
    root = make_fake_fashion_mnist(workdir / "my data" / 'it\'s "here" {y}')
    config = {
        "dataset": {"root": str(root)},
        "subset": {"train_per_class": 20, "val_per_class": 5, "test_per_class": None},
        "training": {"base": {"batch_size": 100}},  # a half's 100 images
    }
    result = snakemake(
        workdir, "--cores", "1", "results/splits/random0.json", config=config, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((workdir / "results/splits/random0.json").read_text())
    assert len(record["halves"]["A"]["train_idx"]) == 5 * 20
    log = (workdir / "results/logs/prepare_data.log").read_text()
    assert "wrote results/data/fashion_mnist.pt" in log

    target = ["--cores", "1", "results/splits/random0.json"]
    unchanged = snakemake(workdir, *target, config=config)
    assert "Nothing to be done" in unchanged.stdout + unchanged.stderr
    labels = root / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels, np.repeat(np.arange(10)[::-1], 10))  # other data under the same name
    # The default target remakes whatever is stale (a narrower target, only what it needs).
    again = snakemake(workdir, "--cores", "1", "--dry-run", config=config)
    stats = again.stdout + again.stderr
    assert again.returncode == 0 and re.search(r"^prepare_data\s+1$", stats, re.MULTILINE)


def test_a_corrupt_file_under_a_quoted_path_fails_the_rule_cleanly(tmp_path):
    """Through snakemake: the job fails, its log says which file, and no cache is left."""
    from .support import make_fake_fashion_mnist

    workdir = tmp_path / "work"
    root = make_fake_fashion_mnist(workdir / "it's data")
    bad = root / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:700])
    config = {"dataset": {"root": str(root)}}
    result = snakemake(workdir, "--cores", "1", "results/data/fashion_mnist.pt", config=config)
    assert result.returncode != 0
    assert "Error in rule prepare_data" in result.stderr
    log = (workdir / "results/logs/prepare_data.log").read_text()
    assert log.startswith("error: ") and str(bad) in log and "truncated or corrupt" in log
    assert not (workdir / "results/data/fashion_mnist.pt").exists()
    assert not list((workdir / "results/data").glob(".*tmp*"))


def test_every_value_in_a_shell_command_is_quoted_or_constrained():
    """A path from the config (or anything else free-form) reaches a rule's shell command
    only through `:q`; the rest are wildcards (constrained to names without spaces or
    quotes), thread counts and `params.base`, `params.provenance`, which common.smk
    quotes with shlex."""
    from .support import rules

    safe = {"threads", "params.base", "params.provenance"} | {
        f"wildcards.{w}" for w in ("split", "half", "target", "treatment", "n", "seed", "key")
    }
    for name, block in rules().items():
        command = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block.split("shell:", 1)[1]))
        for field in re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", command):
            assert field.endswith(":q") or field in safe, f"{name}: {{{field}}} is not quoted"


# --- configs and files that used to pass, or fail with a trace, and now name the fix -------


def test_a_top_level_key_given_twice_is_refused(tmp_path):
    """YAML keeps the last of two equal keys: the first `training:` block would vanish."""
    config = tmp_path / "dup.yaml"
    config.write_text("training: {base: {epochs: 3}}\ntraining: {cell: {epochs: 1}}\n")
    result = snakemake(tmp_path, "--dry-run", "--configfile", str(config), timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{config}: key 'training' appears twice (lines 1 and 2)" in out
    assert "merge them into one" in out


@pytest.mark.parametrize("value", [".inf", ".nan"])
def test_a_number_that_is_not_finite_is_refused(tmp_path, value):
    """`lr: .inf` passed the schema, and every net then diverged."""
    (tmp_path / "lr.yaml").write_text(f"training:\n  base:\n    lr: {value}\n")
    result = snakemake(tmp_path, "--dry-run", "--configfile", str(tmp_path / "lr.yaml"))
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"training.base.lr: {value} is not a finite number; give a finite value" in out


def test_a_batch_larger_than_a_halfs_training_set_is_refused(tmp_path):
    """128 images a batch, 100 in a half: one step an epoch, and no net would learn."""
    subset = {"train_per_class": 20, "val_per_class": 5, "test_per_class": 5}
    out = fails_at_start(tmp_path, {"subset": subset})
    assert (
        "training.base.batch_size: 128 is larger than the training set of the smallest half "
        "(5 classes x subset.train_per_class 20 = 100 images)" in out
    )
    assert "set batch_size to at most 100" in out


def test_numbers_in_a_list_given_with_dash_dash_config_are_explained(tmp_path):
    """Snakemake reads `--config seeds=[0,1]` as the strings '0' and '1'."""
    result = snakemake(tmp_path, "--dry-run", "--config", "seeds=[0,1]", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "seeds.0: '0' is not of type 'integer'" in out
    assert "write `seeds: ...` in a YAML file and give it with --configfile" in out


def test_results_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "results").write_text("a file where the results folder goes\n")
    result = snakemake(tmp_path, "--cores", "1", "--dry-run", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "results: results is a file, not a folder" in out
    assert "NotADirectoryError" not in out


def test_a_data_folder_missing_one_idx_file_names_it(tmp_path, fake_fashion_mnist):
    root = Path(shutil.copytree(fake_fashion_mnist, tmp_path / "raw"))
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    out = fails_at_start(tmp_path / "work", {"dataset": {"root": str(root)}})
    assert f"dataset.root: the folder {str(root)!r} lacks t10k-labels-idx1-ubyte.gz" in out


def test_a_truncated_summary_table_stops_the_claims_with_one_line(capsys, tmp_path):
    import pandas as pd

    table = tmp_path / "summary.parquet"
    pd.DataFrame({"split": ["random0"] * 50, "top1": [0.5] * 50}).to_parquet(table)
    table.write_bytes(table.read_bytes()[:100])
    out = tmp_path / "claims.md"
    err = fails_cleanly(capsys, ["claims", "--table", str(table), "--out", str(out)], out)
    assert f"{table}: not a readable table" in err and "delete it" in err


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seed": "0"}, "seed is '0', not a whole number"),
        ({"train_seconds": -3.0}, "train_seconds is -3.0, not a duration of 0 s or more"),
        (
            {"status": "great"},
            "status is 'great', not one of ['trained', 'chance', 'diverged', 'failed']",
        ),
        (
            {"history": [{"epoch": 1, "loss": float("nan"), "val_top1": 0.5}]},
            "history epoch 1 has non-finite ['loss']",
        ),
    ],
)
def test_a_metrics_file_with_a_value_of_the_wrong_kind_stops_aggregate(
    capsys, tmp_path, change, message
):
    """Beside a good file: a string seed made pyarrow fail on a column of mixed types."""
    good = tmp_path / "results/base/random0/A/seed0/metrics.json"
    good.parent.mkdir(parents=True)
    good.write_text(json.dumps(GOOD_METRICS | {"target": "A", "treatment": "base", "n": 0}))
    bad = tmp_path / CELL
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps(GOOD_METRICS | change))
    table = tmp_path / "summary.parquet"
    argv = ["aggregate", "--metrics", str(good), str(bad), "--out-table", str(table)]
    err = fails_cleanly(capsys, [*argv, "--out-csv", str(tmp_path / "s.csv")], table)
    assert str(bad) in err and message in err and "delete it so its net is retrained" in err


def test_a_damaged_checkpoint_is_named_in_whole_sentences(capsys, fake_cache, split_file, tmp_path):
    """torch's message for a cut-off zip runs on for sentences; it used to be cut mid-word."""
    import torch

    base = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, base)
    base.write_bytes(base.read_bytes()[:300])
    err = train_cell_fails(capsys, fake_cache, split_file, base, tmp_path)
    assert re.search(r"failed reading zip archive: [\w ]+\); delete it so it is retrained", err)


def test_a_slurm_run_without_a_controller_stops_at_start(tmp_path):
    """`--profile slurm` where no controller answers: one line before any job runs, not
    the executor plugin's sinfo/sacct errors after the local jobs."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("scontrol", "sinfo", "sacct", "sbatch", "squeue"):
        (fake / tool).write_text(
            "#!/bin/sh\necho 'slurm_load_ctl_conf error: Unable to contact slurm controller "
            "(connect failure)' >&2\nexit 1\n"
        )
        (fake / tool).chmod(0o755)
    clone = copy_repository(tmp_path / "clone")
    env = venv_env()
    env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    result = snakemake(clone, "--profile", "slurm", clone=True, env=env, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "no SLURM controller answers (scontrol ping: slurm_load_ctl_conf error" in out, out
    assert "run locally with --cores N instead" in out
    assert not (clone / "results/data").exists(), "a local job ran"
