"""Fashion-MNIST: its class names, the IDX file reader and the tensor cache built from them.

Importing this module is cheap (no torch): the Snakefile uses the class names to
validate the config before any job starts. Torch is imported only by the
functions that build or read the tensor cache.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

from ..atomic import torch_save
from ..errors import ConfigError, DataError

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

CLASS_NAMES = {"fashion_mnist": FASHION_MNIST_CLASSES}

# File names as published by Zalando (and shipped by Debian's dataset-fashion-mnist).
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IMAGE_SIDE = 28


def class_names(dataset: str) -> tuple[str, ...]:
    try:
        return CLASS_NAMES[dataset]
    except KeyError:
        raise ConfigError(
            f"dataset.name: unknown dataset {dataset!r}; known: {sorted(CLASS_NAMES)}"
        ) from None


def find_idx_files(root: str | Path) -> dict[str, Path] | None:
    """The four IDX files under `root` (gzipped or not), or None if any is missing."""
    root = Path(root)
    found = {}
    for key, name in IDX_FILES.items():
        for candidate in (root / name, root / name.removesuffix(".gz")):
            if candidate.is_file():
                found[key] = candidate
                break
            if candidate.is_symlink() or candidate.exists():  # there, but not a file
                what = (
                    f"a symlink to {os.readlink(candidate)!r}, which does not exist"
                    if candidate.is_symlink() and not candidate.exists()
                    else "a folder"
                    if candidate.is_dir()
                    else "not a regular file"
                )
                raise DataError(
                    f"{candidate}: {what}, not an IDX file; put the file there (or fix the "
                    "link), or point dataset.root at a folder that has the four files"
                )
        else:
            return None
    return found


def read_idx(path: Path) -> tuple[tuple[int, ...], bytes]:
    """Parse one IDX file of unsigned bytes: (shape, raw data). Checks the header."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            header = f.read(4)
            if len(header) != 4 or header[:2] != b"\0\0" or header[2] != 0x08:
                raise DataError(
                    f"{path}: not an IDX file of unsigned bytes (bad magic {header!r}); "
                    "re-install the dataset (apt-get install --reinstall dataset-fashion-mnist)"
                )
            ndim = header[3]
            shape = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            data = f.read()
    except PermissionError as e:
        raise DataError(
            f"{path}: no permission to read it ({e.strerror}); make it readable "
            f"(chmod a+r {path}) or point dataset.root at a readable copy"
        ) from e
    except IsADirectoryError as e:
        raise DataError(f"{path}: a folder, not an IDX file; put the file there") from e
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataError(
            f"{path}: cannot read ({e}); the file is truncated or corrupt, "
            "re-install the dataset or point dataset.root at a good copy"
        ) from e
    expected = 1
    for s in shape:
        expected *= s
    if len(data) != expected:
        raise DataError(
            f"{path}: header says shape {shape} ({expected} bytes) but {len(data)} bytes "
            "follow; the file is truncated or corrupt"
        )
    return shape, data


def _download(download_root: Path) -> Path:
    """torchvision's FashionMNIST download, for machines without the Debian package."""
    from torchvision.datasets import FashionMNIST

    for train in (True, False):
        FashionMNIST(str(download_root), train=train, download=True)
    return download_root / "FashionMNIST" / "raw"


def locate_raw(root: str | Path, download: bool, download_root: str | Path) -> dict[str, Path]:
    files = find_idx_files(root)
    if files is None and download:
        files = find_idx_files(_download(Path(download_root)))
    if files is None:
        raise DataError(
            f"dataset.root: no Fashion-MNIST IDX files ({', '.join(IDX_FILES.values())}) "
            f"under {str(root)!r}. Install them with `apt-get install dataset-fashion-mnist`, "
            "set dataset.root to a folder that has them, or set dataset.download: true"
        )
    return files


def build_cache(
    dataset: str, root: str | Path, download: bool, download_root: str | Path, out: str | Path
) -> None:
    """Read the raw files once and save uint8 tensors (N, 28, 28) + int64 labels."""
    import torch

    names = class_names(dataset)
    files = locate_raw(root, download, download_root)
    arrays = {}
    for part in ("train", "test"):
        ishape, images = read_idx(files[f"{part}_images"])
        lshape, labels = read_idx(files[f"{part}_labels"])
        if len(ishape) != 3 or ishape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(
                f"{files[f'{part}_images']}: images have shape {ishape[1:]}, expected "
                f"({IMAGE_SIDE}, {IMAGE_SIDE}) for {dataset}"
            )
        if lshape != ishape[:1]:
            raise DataError(f"{files[f'{part}_labels']}: {lshape[0]} labels for {ishape[0]} images")
        x = torch.frombuffer(bytearray(images), dtype=torch.uint8).view(ishape)
        y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).to(torch.int64)
        if int(y.max()) >= len(names):
            raise DataError(f"{files[f'{part}_labels']}: label {int(y.max())} out of range")
        arrays[f"{part}_x"], arrays[f"{part}_y"] = x.clone(), y
    arrays["classes"] = list(names)
    # One normalisation for every half and split, so copied layers see the inputs
    # they were trained on.
    pixels = arrays["train_x"].float().div_(255)
    arrays["mean"], arrays["std"] = float(pixels.mean()), float(pixels.std())
    torch_save(arrays, out)
