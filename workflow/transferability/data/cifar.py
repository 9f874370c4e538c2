"""CIFAR-100 from its python pickles (`cifar-100-python/{train,test,meta}`), into the same
uint8 tensor cache as Fashion-MNIST: (N, 3, 32, 32) images, int64 labels.

The pickles are read directly (no torchvision, no network); torchvision is imported only
to download them where `dataset.download` is set. Class and superclass names are listed
here, torch-free, so the Snakefile can check a config's dissimilar split at start.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from ..atomic import torch_save
from ..errors import DataError

# The fine labels in the order of the pickles' `fine_label_names` (alphabetical).
CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

# The 20 superclasses (`coarse_label_names` order) and their five classes each, as
# published with the dataset (Krizhevsky 2009).
SUPERCLASSES = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}
IMAGE_SIDE = 32
FOLDER = "cifar-100-python"
FILES = ("train", "test", "meta")


def find_pickles(root: str | Path) -> Path | None:
    """The folder holding train/test/meta: `root` itself or `root/cifar-100-python`."""
    root = Path(root)
    for folder in (root, root / FOLDER):
        if all((folder / name).is_file() for name in FILES):
            return folder
    return None


def _download(download_root: Path) -> Path:
    from torchvision.datasets import CIFAR100

    for train in (True, False):
        CIFAR100(str(download_root), train=train, download=True)
    return download_root / FOLDER


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            record = pickle.load(f, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as e:
        raise DataError(
            f"{path}: cannot read the CIFAR-100 pickle ({e}); the file is truncated or "
            "corrupt, download it again or point dataset.root at a good copy"
        ) from e
    if not isinstance(record, dict):
        raise DataError(f"{path}: not a CIFAR-100 pickle (a {type(record).__name__})")
    return record


def _check_meta(meta: dict, path: Path) -> None:
    fine = tuple(meta.get("fine_label_names", ()))
    coarse = tuple(meta.get("coarse_label_names", ()))
    if fine != CLASSES:
        raise DataError(f"{path}: fine_label_names are not CIFAR-100's 100 classes")
    if coarse != tuple(SUPERCLASSES):
        raise DataError(f"{path}: coarse_label_names are not CIFAR-100's 20 superclasses")


def locate(root, download: bool, download_root) -> Path:
    folder = find_pickles(root)
    if folder is None and download:
        folder = find_pickles(_download(Path(download_root)))
    if folder is None:
        raise DataError(
            f"dataset.root: no CIFAR-100 python pickles (cifar-100-python/train, test, meta) "
            f"under {str(root)!r}. Download and unpack cifar-100-python.tar.gz there, or set "
            "dataset.download: true"
        )
    return folder


def build_cache(root, download: bool, download_root, out) -> None:
    """Read the pickles once; save uint8 images, fine labels, names and per-channel stats."""
    import numpy as np
    import torch

    folder = locate(root, download, download_root)
    _check_meta(_unpickle(folder / "meta"), folder / "meta")
    coarse_of = {c: i for i, members in enumerate(SUPERCLASSES.values()) for c in members}
    expected_coarse = np.array([coarse_of[name] for name in CLASSES])
    arrays: dict = {}
    for part in ("train", "test"):
        path = folder / part
        record = _unpickle(path)
        try:
            data = np.asarray(record["data"], dtype=np.uint8)
            fine = np.asarray(record["fine_labels"], dtype=np.int64)
            coarse = np.asarray(record["coarse_labels"], dtype=np.int64)
        except KeyError as e:
            raise DataError(f"{path}: no {e} entry; not a CIFAR-100 pickle") from e
        if data.ndim != 2 or data.shape[1] != 3 * IMAGE_SIDE * IMAGE_SIDE:
            raise DataError(f"{path}: data has shape {data.shape}, expected (N, 3072)")
        if len(fine) != len(data) or len(coarse) != len(data):
            raise DataError(f"{path}: {len(fine)} labels for {len(data)} images")
        if fine.min() < 0 or fine.max() >= len(CLASSES):
            raise DataError(f"{path}: fine label out of range 0..99")
        # The superclass map above decides the dissimilar split: it must be the data's own.
        if (expected_coarse[fine] != coarse).any():
            raise DataError(f"{path}: coarse labels disagree with CIFAR-100's superclasses")
        x = torch.from_numpy(data.reshape(-1, 3, IMAGE_SIDE, IMAGE_SIDE).copy())
        arrays[f"{part}_x"], arrays[f"{part}_y"] = x, torch.from_numpy(fine)
    arrays["classes"] = list(CLASSES)
    pixels = arrays["train_x"].float().div_(255)
    arrays["mean"] = pixels.mean(dim=(0, 2, 3)).tolist()
    arrays["std"] = pixels.std(dim=(0, 2, 3)).tolist()
    torch_save(arrays, out)
