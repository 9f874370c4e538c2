"""Large image datasets in ImageFolder layout (`root/train/<class>/*.JPEG`, `root/val/<class>/...`),
streamed from disk: ILSVRC-2012 does not fit in memory, so the "cache" of such a dataset is
an index (file paths, labels, class ids, per-channel statistics), and training reads
batches through a DataLoader with one worker per job thread.

Training images get the paper's augmentation: the shorter side resized to `resize`, a
random `crop` x `crop` patch (mirroring is the recipe's `augment_flip`); validation and
test images get the centre crop. Torch-free at import; PIL and torch are imported where used.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import torch_save
from ..errors import ConfigError, DataError
from .rgb import to_rgb

PARTS = {"train": "train", "test": "val"}  # our part -> ImageFolder subfolder
EXTENSIONS = (".jpeg", ".jpg", ".png")


def class_folders(root: str | Path) -> list[str]:
    """Sorted class folder names under root/train (ImageNet: the wnids)."""
    train = Path(root) / "train"
    if not train.is_dir():
        problem = "does not exist" if not Path(root).is_dir() else "has no train/ folder"
        raise ConfigError(
            f"dataset.root: {str(root)!r} {problem}; point it at a folder holding train/ and "
            "val/ in ImageFolder layout (one sub-folder of images per class, e.g. ILSVRC-2012 "
            "with val/ sorted into class folders)"
        )
    classes = sorted(p.name for p in train.iterdir() if p.is_dir())
    if not classes:
        raise ConfigError(f"dataset.root: {str(train)!r} has no class folders")
    return classes


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS)


def build_index(root, resize: int, crop: int, stats_images: int, out) -> None:
    import torch

    classes = class_folders(root)
    index: dict = {"kind": "imagefolder", "classes": classes, "resize": resize, "crop": crop}
    for part, sub in PARTS.items():
        files, labels = [], []
        for label, name in enumerate(classes):
            folder = Path(root) / sub / name
            if not folder.is_dir():
                raise DataError(
                    f"{folder}: missing; {sub}/ must have a folder for every class of train/ "
                    "(sort ILSVRC-2012's val images into class folders first)"
                )
            found = _images(folder)
            if not found:
                raise DataError(f"{folder}: no images ({', '.join(EXTENSIONS)})")
            files += [str(p) for p in found]
            labels += [label] * len(found)
        index[f"{part}_files"] = files
        index[f"{part}_y"] = torch.tensor(labels, dtype=torch.int64)
    # Per-channel statistics from an evenly spaced sample of training images: one
    # normalisation for every half and split, so copied layers see familiar inputs.
    files = index["train_files"]
    step = max(1, len(files) // stats_images)
    sample = torch.stack([_load(files[i], resize, crop, None) for i in range(0, len(files), step)])
    pixels = sample.float().div_(255)
    index["mean"] = pixels.mean(dim=(0, 2, 3)).tolist()
    index["std"] = pixels.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()
    torch_save(index, out)


def _load(path: str, resize: int, crop: int, generator):
    """One image as a uint8 (3, crop, crop) tensor: shorter side to `resize`, then a
    random crop (with a generator) or the centre crop (without).

    Done without decoding or resampling more than the crop needs: a JPEG is decoded at the
    smallest 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, PIL's `draft`) that is still at
    least the resized size, and only the crop's box is resampled to crop x crop, not the
    whole image (the crop's position is drawn on the resized size, as before)."""
    import numpy as np
    import torch
    from PIL import Image

    try:
        with Image.open(path) as image:
            w, h = image.size
            scale = resize / min(w, h)
            size = (max(crop, round(w * scale)), max(crop, round(h * scale)))
            if generator is None:
                left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
            else:
                left = int(torch.randint(0, size[0] - crop + 1, (1,), generator=generator))
                top = int(torch.randint(0, size[1] - crop + 1, (1,), generator=generator))
            image.draft("RGB", size)  # JPEG only; a no-op for other formats
            fx, fy = image.size[0] / size[0], image.size[1] / size[1]
            box = (left * fx, top * fy, (left + crop) * fx, (top + crop) * fy)
            image = to_rgb(image, path).resize((crop, crop), Image.Resampling.BILINEAR, box=box)
    except OSError as e:
        raise DataError(f"{path}: cannot read the image ({e}); replace or remove it") from e
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)


class _Images:
    """A map-style dataset of uint8 images (3, crop, crop); one per part of a half. The
    workers hand uint8 to the main process (a quarter of float32's bytes) and Stream
    normalises whole batches."""

    def __init__(self, files, resize, crop, mean, std, random_crop):
        self.files, self.resize, self.crop = files, resize, crop
        self.mean, self.std = mean, std
        self.random_crop, self.seed = random_crop, 0

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        import torch

        generator = None
        if self.random_crop:
            # Seeded per (epoch seed, image): the same crops whatever the worker count.
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        return _load(self.files[i], self.resize, self.crop, generator)


class Stream:
    """Stands in for an image tensor in training.train: len(), batches(order, size) for
    training steps and split(size) for evaluation, each read from disk by a DataLoader.
    (`dataset.store: false`; the default decodes each image once: store.py.)"""

    def __init__(self, images: _Images, workers: int):
        self.images, self.workers, self.cpus = images, workers, workers
        self.device = "cpu"

    def __len__(self) -> int:
        return len(self.images)

    def prepare(self, device, seed: int, flip: bool) -> None:
        """Called by solver.train: on a GPU, the job's CPUs decode (training.cpus) and the
        uint8 batches go from pinned memory to the GPU, normalised there."""
        import torch

        from ..cpus import plan

        self.device = torch.device(device)
        cpus = plan(self.cpus, self.device.type, decodes_per_epoch=True)
        self.workers = cpus.loader_workers
        if self.device.type == "cuda":
            torch.set_num_threads(cpus.torch_threads)

    def _loader(self, batches):
        import torch
        from torch.utils.data import DataLoader

        device = torch.device(self.device)
        mean = torch.tensor(self.images.mean).mul_(255)[:, None, None].to(device)
        std = torch.tensor(self.images.std).mul_(255)[:, None, None].to(device)
        loader = DataLoader(
            self.images,
            batch_sampler=batches,
            num_workers=self.workers,
            persistent_workers=False,
            pin_memory=device.type == "cuda",
        )
        return (xb.to(device, non_blocking=True).float().sub_(mean).div_(std) for xb in loader)

    def batches(self, order, batch_size: int, epoch: int | None = None):
        """(positions, images) of each training batch, in the order given."""
        import torch

        chunks = [chunk.tolist() for chunk in order.split(batch_size)]
        # Drawn from torch's global generator, which train() seeds per net: each epoch
        # gets new crops, and the same net gets the same crops on every run.
        self.images.seed = int(torch.randint(0, 2**31 - 1, (1,)))
        yield from zip(chunks, self._loader(chunks), strict=True)

    def split(self, size: int):
        n = len(self.images)
        return iter(self._loader([list(range(i, min(i + size, n))) for i in range(0, n, size)]))


def read_half(index_path, index: dict, half: dict, relabel, feed=None) -> dict:
    """The half as halves.load_half asks every reader (readers.py); `feed` is the store's."""
    import torch

    return load_half(index, half, relabel, workers=torch.get_num_threads())


def load_half(index: dict, half: dict, relabel, workers: int) -> dict:
    """Streams of a half's train (random crops), val and test (centre crops) images."""
    import torch

    parts = {}
    for part, source in (("train", "train"), ("val", "train"), ("test", "test")):
        idx = half[f"{part}_idx"]
        files = [index[f"{source}_files"][i] for i in idx]
        images = _Images(
            files,
            index["resize"],
            index["crop"],
            index["mean"],
            index["std"],
            random_crop=part == "train",
        )
        labels = relabel[index[f"{source}_y"][torch.tensor(idx, dtype=torch.int64)]]
        parts[part] = (Stream(images, workers), labels)
    return parts
