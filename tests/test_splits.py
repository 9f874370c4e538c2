"""Class splits: disjoint, covering, balanced, deterministic; image subsets as recorded."""

import json

import pytest

from transferability.data import splits
from transferability.data.fashion_mnist import FASHION_MNIST_CLASSES
from transferability.errors import ConfigError, DataError

NAMES = FASHION_MNIST_CLASSES
UPPER = ["T-shirt/top", "Pullover", "Dress", "Coat", "Shirt"]
OTHER = ["Trouser", "Sandal", "Sneaker", "Bag", "Ankle boot"]


@pytest.mark.parametrize("seed", range(5))
def test_random_halves_are_disjoint_covering_and_balanced(seed):
    halves = splits.random_halves(10, seed)
    assert set(halves["A"]).isdisjoint(halves["B"])
    assert sorted(halves["A"] + halves["B"]) == list(range(10))
    assert len(halves["A"]) == len(halves["B"]) == 5


def test_random_halves_are_deterministic_given_the_seed():
    assert splits.random_halves(10, 7) == splits.random_halves(10, 7)


def test_different_seeds_give_different_splits():
    assert len({tuple(splits.random_halves(10, s)["A"]) for s in range(10)}) > 1


def test_named_groups_resolve_to_class_indices():
    halves = splits.resolve_groups(NAMES, {"A": UPPER, "B": OTHER})
    assert halves == {"A": [0, 2, 3, 4, 6], "B": [1, 5, 7, 8, 9]}


def test_unknown_class_name_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"splits\.dissimilar\.A.*'Tshirt'.*T-shirt/top"):
        splits.resolve_groups(NAMES, {"A": ["Tshirt", *UPPER[1:]], "B": OTHER})


def test_overlapping_groups_are_refused():
    with pytest.raises(ConfigError, match=r"\['Bag'\] are in both A and B"):
        splits.resolve_groups(NAMES, {"A": [*UPPER, "Bag"], "B": OTHER})


def test_groups_must_cover_every_class():
    with pytest.raises(ConfigError, match=r"\['Shirt'\] are in neither"):
        splits.resolve_groups(NAMES, {"A": UPPER[:-1], "B": OTHER})


def _split(**overrides):
    train_labels = [i % 10 for i in range(300)]  # 30 per class
    test_labels = [i % 10 for i in range(100)]  # 10 per class
    kwargs = dict(
        split="random0",
        kind="random",
        class_names=NAMES,
        halves=splits.random_halves(10, 3),
        train_labels=train_labels,
        test_labels=test_labels,
        train_per_class=12,
        val_per_class=5,
        test_per_class=None,
        subset_seed=0,
        split_seed=3,
    )
    return splits.make_split(**(kwargs | overrides)), train_labels, test_labels


def test_subsets_take_the_asked_number_per_class_from_the_right_part():
    record, train_labels, test_labels = _split()
    for half in splits.HALVES:
        h = record["halves"][half]
        for part, labels, per_class in (
            ("train_idx", train_labels, 12),
            ("val_idx", train_labels, 5),
            ("test_idx", test_labels, 10),
        ):
            got = [labels[i] for i in h[part]]
            assert sorted(set(got)) == h["class_indices"]
            assert all(got.count(c) == per_class for c in h["class_indices"])


def test_validation_images_are_carved_out_of_the_training_images():
    record, _, _ = _split()
    for half in record["halves"].values():
        assert set(half["val_idx"]).isdisjoint(half["train_idx"])


def test_split_files_are_deterministic(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    splits.write_split(_split()[0], a)
    splits.write_split(_split()[0], b)
    assert a.read_bytes() == b.read_bytes()


def test_a_class_uses_the_same_images_in_every_split():
    one, _, _ = _split(halves={"A": [0, 1, 2, 3, 4], "B": [5, 6, 7, 8, 9]})
    two, _, _ = _split(halves={"A": [0, 5, 6, 7, 8], "B": [1, 2, 3, 4, 9]})
    labels = [i % 10 for i in range(300)]
    class0 = [i for i in one["halves"]["A"]["train_idx"] if labels[i] == 0]
    assert class0 == [i for i in two["halves"]["A"]["train_idx"] if labels[i] == 0]


def test_asking_for_more_images_than_a_class_has_names_the_key():
    with pytest.raises(ConfigError, match=r"subset.*_per_class"):
        _split(train_per_class=100)


def test_a_split_file_edited_to_overlap_is_refused(tmp_path):
    record, _, _ = _split()
    record["halves"]["B"]["class_indices"].append(record["halves"]["A"]["class_indices"][0])
    path = tmp_path / "split.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError, match="disjoint"):
        splits.read_split(path)
