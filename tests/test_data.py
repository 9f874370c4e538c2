"""The data cache: built once from IDX files; bad raw files fail with the file named. The
datasets: each declared once (data/sources.py's REGISTRY), the config schema agreeing."""

import gzip
import shutil

import numpy as np
import pytest
import torch
import yaml

from transferability.data import sources
from transferability.data.cache import load_cache
from transferability.data.fashion_mnist import build_cache, read_idx
from transferability.errors import ConfigError, DataError

from .support import FASHION_MNIST_ROOT, REPO, write_idx


def test_cache_holds_uint8_images_labels_and_class_names(fake_cache):
    cache = load_cache(fake_cache)
    assert cache["train_x"].dtype == torch.uint8 and cache["train_x"].shape == (300, 28, 28)
    assert cache["test_y"].tolist() == np.repeat(np.arange(10), 10).tolist()
    assert cache["classes"][0] == "T-shirt/top" and len(cache["classes"]) == 10
    assert 0 < cache["mean"] < 1 and cache["std"] > 0


@pytest.mark.skipif(not FASHION_MNIST_ROOT.is_dir(), reason="dataset-fashion-mnist not installed")
def test_the_debian_files_parse_to_the_published_sizes():
    shape, data = read_idx(FASHION_MNIST_ROOT / "t10k-images-idx3-ubyte.gz")
    assert shape == (10000, 28, 28) and len(data) == 10000 * 28 * 28


def _copy(src, tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(src, dst)
    return dst


@pytest.mark.badinput
def test_a_truncated_gzip_file_is_named(fake_fashion_mnist, tmp_path):
    root = _copy(fake_fashion_mnist, tmp_path)
    target = root / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:500])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*truncated or corrupt"):
        build_cache("fashion_mnist", root, False, "unused", tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.badinput
def test_an_idx_file_whose_data_is_short_is_named(fake_fashion_mnist, tmp_path):
    root = _copy(fake_fashion_mnist, tmp_path)
    target = root / "t10k-labels-idx1-ubyte.gz"
    data = gzip.decompress(target.read_bytes())
    target.write_bytes(gzip.compress(data[:-3]))
    with pytest.raises(DataError, match="t10k-labels.*header says shape"):
        build_cache("fashion_mnist", root, False, "unused", tmp_path / "out.pt")


@pytest.mark.badinput
def test_a_file_that_is_not_idx_is_named(fake_fashion_mnist, tmp_path):
    root = _copy(fake_fashion_mnist, tmp_path)
    (root / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(DataError, match="train-labels.*not an IDX file"):
        build_cache("fashion_mnist", root, False, "unused", tmp_path / "out.pt")


@pytest.mark.badinput
def test_images_of_the_wrong_shape_are_refused(fake_fashion_mnist, tmp_path):
    root = _copy(fake_fashion_mnist, tmp_path)
    write_idx(root / "train-images-idx3-ubyte.gz", np.zeros((300, 32, 32)))
    with pytest.raises(DataError, match=r"shape \(32, 32\), expected \(28, 28\)"):
        build_cache("fashion_mnist", root, False, "unused", tmp_path / "out.pt")


@pytest.mark.badinput
def test_a_missing_data_folder_names_the_key_and_the_fixes(tmp_path):
    with pytest.raises(DataError, match="dataset.root.*apt-get install dataset-fashion-mnist"):
        build_cache("fashion_mnist", tmp_path / "nowhere", False, "unused", tmp_path / "out.pt")


@pytest.mark.badinput
def test_a_corrupt_cache_says_to_rebuild_it(tmp_path):
    bad = tmp_path / "cache.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match="rerun prepare_data"):
        load_cache(bad)


def test_where_the_files_are_absent_the_download_fallback_is_used(tmp_path, monkeypatch):
    """dataset.download: true asks torchvision (here a stand-in writing local files)."""
    from transferability.data import fashion_mnist

    from .support import make_fake_fashion_mnist

    def fake_download(download_root):
        return make_fake_fashion_mnist(download_root / "FashionMNIST" / "raw")

    monkeypatch.setattr(fashion_mnist, "_download", fake_download)
    out = tmp_path / "cache.pt"
    build_cache("fashion_mnist", tmp_path / "absent", True, tmp_path / "downloads", out)
    assert load_cache(out)["train_x"].shape == (300, 28, 28)


# ------------------------------------------------------------------------------------
# The dataset registry


def test_the_schema_enum_is_the_registrys_datasets():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    name = schema["properties"]["dataset"]["properties"]["name"]
    assert name["enum"] == list(sources.NAMES)
    assert name["default"] in sources.NAMES


def test_the_registry_names_each_dataset_once_and_streams_the_imagefolders():
    assert sources.NAMES == ("fashion_mnist", "cifar100", "imagefolder", "imagenet")
    assert sources.STREAMED == ("imagefolder", "imagenet")


def test_every_config_names_a_registered_dataset():
    for path in sorted((REPO / "config").glob("*.yaml")):
        dataset = (yaml.safe_load(path.read_text()) or {}).get("dataset") or {}
        assert dataset.get("name", "fashion_mnist") in sources.NAMES, path.name


def test_an_unknown_dataset_names_the_key_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"dataset\.name: unknown dataset 'mnist'.*imagefolder"):
        sources.class_names({"name": "mnist", "root": "x"})


def test_each_dataset_has_its_own_groups():
    cifar = {"name": "cifar100", "root": "x"}
    names = sources.class_names(cifar)
    groups = sources.expand_groups(cifar, names, {"A": ["people"], "B": ["rest"]})
    assert groups["A"] == ["baby", "boy", "girl", "man", "woman"] and len(groups["B"]) == 95
    with pytest.raises(ConfigError, match=r"wordnet:n00021939.*dataset\.name imagenet"):
        sources.expand_groups(cifar, names, {"A": ["wordnet:n00021939"], "B": ["rest"]})
    folder = {"name": "imagefolder", "root": "x"}
    assert sources.expand_groups(folder, ["a", "b", "c"], {"A": ["a"], "B": ["rest"]}) == {
        "A": ["a"],
        "B": ["b", "c"],
    }


def test_an_imagefolder_reads_its_classes_from_its_folders(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / "train" / name).mkdir(parents=True)
    for name in ("imagefolder", "imagenet"):
        dataset = {"name": name, "root": str(tmp_path)}
        assert sources.class_names(dataset) == ("cat", "dog")
        assert sources.data_problem(dataset) is None
        # Its content is part of the data's key: a new image (or class) is new data.
        before = sources.source_digest(dataset)
        (tmp_path / "train/cat/1.png").write_bytes(b"x")
        assert sources.source_digest(dataset) != before
        (tmp_path / "train/cat/1.png").unlink()
    problem = sources.data_problem({"name": "imagefolder", "root": str(tmp_path / "none")})
    assert "dataset.root" in problem
