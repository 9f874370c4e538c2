"""The datasets the workflow can run on, behind one interface: class names, the data
check made before any job starts, the dissimilar split's groups, and prepare_data.

    fashion_mnist  IDX files (fashion_mnist.py)   tensor cache, the embedded default
    cifar100       python pickles (cifar.py)      tensor cache
    imagenet       ImageFolder of JPEGs (imagefolder.py) + WordNet (wordnet.py)   streamed index

Torch-free at import, like the modules it dispatches to.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigError, PipelineError
from . import cifar, fashion_mnist, ilsvrc2012, imagefolder, wordnet

STREAMED = ("imagenet",)
WORDNET_PREFIX = "wordnet:"  # a group entry "wordnet:n00021939": every class under that synset
REST = "rest"  # a group entry for every class not in the other half


def class_names(dataset: dict) -> tuple[str, ...]:
    name = dataset["name"]
    if name == "cifar100":
        return cifar.CLASSES
    if name in STREAMED:
        return tuple(imagefolder.class_folders(dataset["root"]))
    return fashion_mnist.class_names(name)


def data_problem(dataset: dict) -> str | None:
    """Why the configured raw data cannot be read (None when it can): checked at start."""
    name, root = dataset["name"], dataset["root"]
    if name in STREAMED:
        try:
            imagefolder.class_folders(root)
        except ConfigError as e:
            return str(e)
        return None
    if dataset.get("download"):
        return None
    if name == "cifar100":
        if cifar.find_pickles(root) is None:
            return (
                f"dataset.root: no CIFAR-100 python pickles (cifar-100-python/train, test, meta) "
                f"under {root!r}; unpack cifar-100-python.tar.gz there or set "
                "dataset.download: true"
            )
        return None
    if fashion_mnist.find_idx_files(root) is None:
        from pathlib import Path

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
    return None


def raw_fingerprint(dataset: dict) -> str:
    """Size and modification time of each raw file prepare_data reads, a params value of
    prepare_data: raw data replaced after the cache was made (another copy, a re-download)
    remakes the cache, and so everything trained on it. Empty for a streamed dataset (its
    images are read by each job) and where no raw files are found (downloaded by the job)."""
    name, root = dataset["name"], dataset["root"]
    if name in STREAMED:
        return ""
    try:
        if name == "cifar100":
            folder = cifar.find_pickles(root)
            files = [folder / f for f in cifar.FILES] if folder else []
        else:
            files = list((fashion_mnist.find_idx_files(root) or {}).values())
        stats = [(p.name, p.stat()) for p in files]
    except (OSError, PipelineError):  # the check at start says what is wrong
        return ""
    return " ".join(f"{n}:{st.st_size}:{st.st_mtime_ns}" for n, st in stats)


def expand_groups(
    dataset: dict, names: Sequence[str], groups: dict[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Class names of each half from the config's entries, which may be class names,
    CIFAR-100 superclass names, `wordnet:<wnid>` (classes under that WordNet synset),
    `ilsvrc2012:man_made` / `ilsvrc2012:natural` (the authors' published lists) or `rest`
    (every class not in the other half)."""
    out: dict[str, list[str]] = {}
    for half in ("A", "B"):
        members: list[str] = []
        for entry in groups.get(half) or ():
            if dataset["name"] == "cifar100" and entry in cifar.SUPERCLASSES:
                members += cifar.SUPERCLASSES[entry]
            elif entry.startswith(WORDNET_PREFIX):
                synset = entry.removeprefix(WORDNET_PREFIX)
                root = dataset.get("wordnet_root") or wordnet.DEFAULT_ROOT
                members += wordnet.split_by_hypernym(names, synset.removeprefix("n"), root)[0]
            elif entry.startswith(ilsvrc2012.PREFIX):
                members += ilsvrc2012.members(entry.removeprefix(ilsvrc2012.PREFIX), names)
            elif entry != REST:
                members.append(entry)
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
    name = settings["name"]
    if name == "cifar100":
        cifar.build_cache(settings["root"], settings["download"], settings["download_root"], out)
    elif name in STREAMED:
        imagefolder.build_index(
            settings["root"],
            settings.get("resize", 256),
            settings.get("crop", 227),
            settings.get("stats_images", 1000),
            out,
        )
    else:
        fashion_mnist.build_cache(
            name, settings["root"], settings["download"], settings["download_root"], out
        )
