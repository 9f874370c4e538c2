"""WordNet 3.0 hypernym look-ups for ImageNet class ids, from the plain database files
(Debian's `wordnet-base`: /usr/share/wordnet/data.noun). Pure Python, no NLTK.

An ImageNet wnid is "n" + the 8-digit offset of a WordNet 3.0 noun synset, and in
WordNet's format that offset is the byte position of the synset's line in data.noun,
so a look-up is one seek. The man-made vs natural rule of the dissimilar split:
a class is man-made iff artifact.n.01 (offset 00021939) is among its hypernyms
(following both class hypernyms `@` and instance hypernyms `@i`, all paths).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from ..errors import ConfigError, DataError

DEFAULT_ROOT = "/usr/share/wordnet"
ARTIFACT = "00021939"  # artifact.n.01 in WordNet 3.0 (index.noun: "artifact n 1 ... 00021939")
HYPERNYM_POINTERS = ("@", "@i")
WNID = re.compile(r"^n(\d{8})$")


def data_file(root: str | Path) -> Path:
    path = Path(root) / "data.noun"
    if not path.is_file():
        raise ConfigError(
            f"dataset.wordnet_root: no WordNet 3.0 data.noun under {str(root)!r}; install it "
            "with `apt-get install wordnet-base` (files in /usr/share/wordnet) or set "
            "dataset.wordnet_root"
        )
    return path


def offset_of(wnid: str) -> str:
    match = WNID.match(wnid)
    if not match:
        raise DataError(f"{wnid!r} is not an ImageNet wnid ('n' followed by 8 digits)")
    return match.group(1)


@cache
def _synset(path: Path, offset: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(first lemma, lemmas, hypernym offsets) of the noun synset at `offset`."""
    with open(path, "rb") as f:
        f.seek(int(offset))
        line = f.readline().decode("utf-8", "replace")
    fields = line.split()
    if not fields or fields[0] != offset:
        raise DataError(
            f"{path}: no noun synset at offset {offset} (is it WordNet 3.0? ImageNet wnids "
            "are WordNet 3.0 offsets)"
        )
    n_words = int(fields[3], 16)
    lemmas = tuple(fields[4 : 4 + 2 * n_words : 2])
    at = 4 + 2 * n_words
    n_pointers = int(fields[at])
    hypernyms = []
    for i in range(n_pointers):
        symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
        if symbol in HYPERNYM_POINTERS and pos == "n":
            hypernyms.append(target)
    return lemmas[0], lemmas, tuple(hypernyms)


def lemma(wnid: str, root: str | Path = DEFAULT_ROOT) -> str:
    return _synset(data_file(root), offset_of(wnid))[0]


def ancestors(wnid: str, root: str | Path = DEFAULT_ROOT) -> set[str]:
    """Offsets of every hypernym of the synset, transitively, along all paths."""
    path = data_file(root)
    seen: set[str] = set()
    todo = list(_synset(path, offset_of(wnid))[2])
    while todo:
        offset = todo.pop()
        if offset not in seen:
            seen.add(offset)
            todo.extend(_synset(path, offset)[2])
    return seen


def has_hypernym(wnid: str, hypernym: str = ARTIFACT, root: str | Path = DEFAULT_ROOT) -> bool:
    return offset_of(f"n{hypernym}" if hypernym.isdigit() else hypernym) in ancestors(wnid, root)


def split_by_hypernym(
    wnids, hypernym: str = ARTIFACT, root: str | Path = DEFAULT_ROOT
) -> tuple[list[str], list[str]]:
    """(classes under the hypernym, the rest): for ImageNet, (man-made, natural)."""
    under = [w for w in wnids if has_hypernym(w, hypernym, root)]
    rest = [w for w in wnids if w not in set(under)]
    return under, rest
