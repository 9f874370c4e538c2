"""The datasets the workflow can run on, each declared once in `REGISTRY`: its class names,
the check of its raw data made before any job starts, the raw files whose change remakes
its cache, how prepare_data reads it, its own group entries for the dissimilar split, and
whether its images are streamed from disk or held in memory.

    fashion_mnist  IDX files (fashion_mnist.py)                       tensor cache, the default
    cifar100       python pickles (cifar.py), superclass groups        tensor cache
    imagefolder    any ImageFolder of images (imagefolder.py)          streamed index
    imagenet       ILSVRC-2012 as an ImageFolder, WordNet and the      streamed index
                   authors' groups (wordnet.py, ilsvrc2012.py)

Everything else asks this module (`get(name)`), never compares a dataset's name: the config
schema keeps its own enum of the names (Snakemake validates with it), which
tests/test_data.py checks against this registry. Torch-free at import, like the modules it
calls. To add a dataset see docs/extending.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, PipelineError
from . import cifar, fashion_mnist, ilsvrc2012, imagefolder, wordnet

WORDNET_PREFIX = "wordnet:"  # a group entry "wordnet:n00021939": every class under that synset
REST = "rest"  # a group entry for every class not in the other half


def _no_groups(dataset: dict, entry: str, names: Sequence[str]) -> list[str] | None:
    return None


@dataclass(frozen=True)
class Dataset:
    name: str  # dataset.name in the config, and the name of its cache file
    # The dataset's class names in label order (for a streamed one, read from dataset.root).
    class_names: Callable[[dict], Sequence[str]]
    # Why the configured raw data cannot be read, naming the config key and the fix; None
    # when it can. Checked when the workflow starts, before any job.
    problem: Callable[[dict], str | None]
    # prepare_data: the tensor cache (or, streamed, the index) written to `out`.
    prepare: Callable[[dict, str | Path], None]
    # The raw files prepare_data reads, for raw_fingerprint; none for a streamed dataset,
    # whose images each job reads itself.
    raw_files: Callable[[dict], list[Path]] = lambda dataset: []
    # A group entry of the dissimilar split the dataset defines (a CIFAR-100 superclass, a
    # WordNet synset): its class names, or None when the entry is not one of its groups.
    groups: Callable[[dict, str, Sequence[str]], list[str] | None] = _no_groups
    # True: too big for memory, so the "cache" is an index of files read batch by batch
    # (data.imagefolder), and optionally decoded once into a store (rule store_images).
    streamed: bool = False


# ------------------------------------------------------------------------------------
# Fashion-MNIST


def _fashion_mnist_problem(dataset: dict) -> str | None:
    root = dataset["root"]
    if dataset.get("download") or fashion_mnist.find_idx_files(root) is not None:
        return None
    missing = [
        name
        for name in fashion_mnist.IDX_FILES.values()
        if not any((Path(root) / n).exists() for n in (name, name.removesuffix(".gz")))
    ]
    if Path(root).is_dir() and len(missing) < len(fashion_mnist.IDX_FILES):
        return (
            f"dataset.root: the folder {root!r} lacks {', '.join(missing)} (gzipped or "
            "not) of the four Fashion-MNIST IDX files; put it there, or point "
            "dataset.root at a folder that has all four"
        )
    problem = "does not exist" if not Path(root).is_dir() else "has no Fashion-MNIST IDX files"
    return (
        f"dataset.root: the folder {root!r} {problem}. Install the data with "
        "`apt-get install dataset-fashion-mnist`, set dataset.root to a folder with "
        "the four *-ubyte.gz files, or set dataset.download: true"
    )


def _fashion_mnist_prepare(dataset: dict, out) -> None:
    fashion_mnist.build_cache(
        dataset["name"], dataset["root"], dataset["download"], dataset["download_root"], out
    )


# ------------------------------------------------------------------------------------
# CIFAR-100


def _cifar_problem(dataset: dict) -> str | None:
    root = dataset["root"]
    if dataset.get("download") or cifar.find_pickles(root) is not None:
        return None
    return (
        f"dataset.root: no CIFAR-100 python pickles (cifar-100-python/train, test, meta) "
        f"under {root!r}; unpack cifar-100-python.tar.gz there or set "
        "dataset.download: true"
    )


def _cifar_files(dataset: dict) -> list[Path]:
    folder = cifar.find_pickles(dataset["root"])
    return [folder / f for f in cifar.FILES] if folder else []


def _cifar_groups(dataset: dict, entry: str, names: Sequence[str]) -> list[str] | None:
    return list(cifar.SUPERCLASSES[entry]) if entry in cifar.SUPERCLASSES else None


# ------------------------------------------------------------------------------------
# ImageFolder datasets (ILSVRC-2012 among them)


def _folder_problem(dataset: dict) -> str | None:
    try:
        imagefolder.class_folders(dataset["root"])
    except ConfigError as e:
        return str(e)
    return None


def _folder_prepare(dataset: dict, out) -> None:
    imagefolder.build_index(
        dataset["root"],
        dataset.get("resize", 256),
        dataset.get("crop", 227),
        dataset.get("stats_images", 1000),
        out,
    )


def _imagenet_groups(dataset: dict, entry: str, names: Sequence[str]) -> list[str] | None:
    """Its classes are WordNet ids: a synset's hyponyms, or one of the authors' lists."""
    if entry.startswith(WORDNET_PREFIX):
        synset = entry.removeprefix(WORDNET_PREFIX)
        root = dataset.get("wordnet_root") or wordnet.DEFAULT_ROOT
        return list(wordnet.split_by_hypernym(names, synset.removeprefix("n"), root)[0])
    if entry.startswith(ilsvrc2012.PREFIX):
        return list(ilsvrc2012.members(entry.removeprefix(ilsvrc2012.PREFIX), names))
    return None


def _folder_classes(dataset: dict) -> tuple[str, ...]:
    return tuple(imagefolder.class_folders(dataset["root"]))


# In the order of the schema's enum.
REGISTRY: tuple[Dataset, ...] = (
    Dataset(
        "fashion_mnist",
        class_names=lambda dataset: fashion_mnist.FASHION_MNIST_CLASSES,
        problem=_fashion_mnist_problem,
        prepare=_fashion_mnist_prepare,
        raw_files=lambda d: list((fashion_mnist.find_idx_files(d["root"]) or {}).values()),
    ),
    Dataset(
        "cifar100",
        class_names=lambda dataset: cifar.CLASSES,
        problem=_cifar_problem,
        prepare=lambda d, out: cifar.build_cache(d["root"], d["download"], d["download_root"], out),
        raw_files=_cifar_files,
        groups=_cifar_groups,
    ),
    # Any folder of class subfolders (train/<class>/, val/<class>/): the smoke run's
    # generated JPEGs, or a dataset of one's own.
    Dataset(
        "imagefolder",
        class_names=_folder_classes,
        problem=_folder_problem,
        prepare=_folder_prepare,
        streamed=True,
    ),
    # ILSVRC-2012 (or a subset of its classes), read as an ImageFolder whose class folders
    # are the wnids, which is what its WordNet and ilsvrc2012: groups rely on.
    Dataset(
        "imagenet",
        class_names=_folder_classes,
        problem=_folder_problem,
        prepare=_folder_prepare,
        groups=_imagenet_groups,
        streamed=True,
    ),
)
BY_NAME: dict[str, Dataset] = {d.name: d for d in REGISTRY}
NAMES: tuple[str, ...] = tuple(BY_NAME)
STREAMED: tuple[str, ...] = tuple(d.name for d in REGISTRY if d.streamed)


def get(name: str) -> Dataset:
    """The dataset called `name`; a ConfigError naming the config key and the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ConfigError(f"dataset.name: unknown dataset {name!r}; known: {list(NAMES)}") from None


def class_names(dataset: dict) -> tuple[str, ...]:
    return tuple(get(dataset["name"]).class_names(dataset))


def data_problem(dataset: dict) -> str | None:
    """Why the configured raw data cannot be read (None when it can): checked at start."""
    return get(dataset["name"]).problem(dataset)


def source_files(dataset: dict) -> tuple[Path, list[Path]]:
    """(root, files) of what prepare_data reads: the raw files, or every file under an
    ImageFolder's root (a new class folder or a replaced image is new content). No files
    where there are none yet (downloaded by the job)."""
    source = get(dataset["name"])
    if source.streamed:
        root = Path(dataset["root"])
        files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        return root, files
    try:
        files = list(source.raw_files(dataset))
    except (OSError, PipelineError):  # the check at start says what is wrong
        return Path("."), []
    root = Path(os.path.commonpath([str(p.parent) for p in files])) if files else Path(".")
    return root, [p for p in files if p.exists()]


def source_digest(dataset: dict, cache: Path | None = None) -> str:
    """The content digest of the dataset's sources (records.files_digest): part of the key
    of prepare_data, and so of everything made from the data."""
    from ..records import files_digest

    root, files = source_files(dataset)
    return files_digest(files, root, cache)


def expand_groups(
    dataset: dict, names: Sequence[str], groups: dict[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Class names of each half from the config's entries: class names, the dataset's own
    groups (CIFAR-100 superclass names; for imagenet `wordnet:<wnid>`, the classes under
    that WordNet synset, and `ilsvrc2012:man_made` / `ilsvrc2012:natural`, the authors'
    published lists) or `rest` (every class not in the other half)."""
    source = get(dataset["name"])
    out: dict[str, list[str]] = {}
    for half in ("A", "B"):
        members: list[str] = []
        for entry in groups.get(half) or ():
            if entry == REST:
                continue
            group = source.groups(dataset, entry, names)
            if group is None and entry.startswith((WORDNET_PREFIX, ilsvrc2012.PREFIX)):
                raise ConfigError(
                    f"splits.dissimilar: {entry!r} is a group of ImageNet classes (WordNet "
                    f"ids), for dataset.name imagenet, not {source.name}"
                )
            members += [entry] if group is None else group
        out[half] = members
    for half, other in (("A", "B"), ("B", "A")):
        if REST in (groups.get(half) or ()):
            if REST in (groups.get(other) or ()):
                raise ConfigError("splits.dissimilar: 'rest' can stand in only one half")
            taken = set(out[other])
            out[half] += [n for n in names if n not in taken and n not in out[half]]
    return out


def prepare(settings: dict, out) -> None:
    """prepare_data: the tensor cache (small data) or the streamed index (ImageFolder)."""
    get(settings["name"]).prepare(settings, out)
