"""Tiny datasets in the real on-disk formats of the full-scale configs: CIFAR-100's python
pickles and an ImageFolder of JPEGs named by real ImageNet wnids."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from transferability.data import cifar

WORDNET_ROOT = Path("/usr/share/wordnet")

# Real ILSVRC-2012 wnids with their WordNet 3.0 lemmas, and whether artifact.n.01 is among
# their hypernyms (man-made): checked against the installed wordnet-base files.
WNIDS = {
    "n02119789": ("kit_fox", False),
    "n01882714": ("koala", False),
    "n07745940": ("strawberry", False),
    "n09472597": ("volcano", False),
    "n04086273": ("revolver", True),
    "n04507155": ("umbrella", True),
    "n02690373": ("airliner", True),
    "n03947888": ("pirate", True),  # the ship, not the person
}


def write_cifar100(root: Path, train_per_class: int = 4, test_per_class: int = 2) -> Path:
    """cifar-100-python/{train,test,meta} as published: latin1-compatible pickles of dicts."""
    folder = root / cifar.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    coarse_of = {c: i for i, members in enumerate(cifar.SUPERCLASSES.values()) for c in members}
    for part, per_class in (("train", train_per_class), ("test", test_per_class)):
        fine = np.repeat(np.arange(100), per_class)
        data = rng.integers(0, 256, size=(len(fine), 3072), dtype=np.uint8)
        record = {
            b"filenames": [f"img{i}.png".encode() for i in range(len(fine))],
            b"batch_label": f"{part} batch".encode(),
            b"fine_labels": fine.tolist(),
            b"coarse_labels": [coarse_of[cifar.CLASSES[f]] for f in fine],
            b"data": data,
        }
        # The published files are Python 2 pickles with bytes keys; pickle.load with
        # encoding="latin1" turns them into str keys, as it does here.
        with open(folder / part, "wb") as f:
            pickle.dump({k.decode(): v for k, v in record.items()}, f, protocol=2)
    meta = {
        "fine_label_names": list(cifar.CLASSES),
        "coarse_label_names": list(cifar.SUPERCLASSES),
    }
    with open(folder / "meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return root


def write_imagefolder(root: Path, train_per_class: int = 4, val_per_class: int = 2) -> Path:
    """root/{train,val}/<wnid>/*.JPEG: small JPEGs of odd sizes, as ILSVRC's are."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for sub, per_class in (("train", train_per_class), ("val", val_per_class)):
        for c, wnid in enumerate(WNIDS):
            folder = root / sub / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                h, w = 40 + 3 * i, 56 - 2 * i
                pixels = rng.integers(0, 80, size=(h, w, 3), dtype=np.uint8)
                pixels[:, :, c % 3] += np.uint8(100 + 10 * c)
                Image.fromarray(pixels).save(folder / f"{wnid}_{i}.JPEG", quality=85)
    return root
