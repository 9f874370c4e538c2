"""The authors' own ImageNet class splits (Yosinski et al. 2014, yosinski/convnet_transfer).

- Random halves: their `make_reduced_dataset.py` seeds numpy's legacy generator with a
  one-element list, `numpy.random.seed([s])` (argparse `nargs=1` makes the seed a list),
  then half A = `sorted(numpy.random.choice(numpy.arange(1000), 500, replace=False))`,
  for s = 0..3; half B is the rest. `splits.paper_random_halves` draws exactly that.
- Man-made vs natural: the published index lists (lists/half_man_idx.txt, 551 classes;
  the other 449 are natural). Indices are ILSVRC-2012 class indices, i.e. positions in
  the sorted list of the 1000 wnids (lists/ilsvrc2012_wnids.txt), the order of an
  ImageFolder of `<wnid>/` folders. In their script the natural half is A.

A config names these halves as group entries `ilsvrc2012:natural` and
`ilsvrc2012:man_made` (sources.expand_groups). Pure Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

from ..errors import ConfigError

DATA = Path(__file__).parent / "lists"
PREFIX = "ilsvrc2012:"  # a group entry "ilsvrc2012:man_made": the authors' list
GROUPS = {"man_made": "half_man_idx.txt", "natural": "half_nat_idx.txt"}


@cache
def wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 wnids; position = class index."""
    return tuple((DATA / "ilsvrc2012_wnids.txt").read_text().split())


@cache
def indices(group: str) -> tuple[int, ...]:
    """Class indices (0..999) of the authors' `man_made` or `natural` half."""
    if group not in GROUPS:
        raise ConfigError(
            f"splits.dissimilar: unknown group {PREFIX}{group}; "
            f"known: {[PREFIX + g for g in GROUPS]}"
        )
    return tuple(int(line) for line in (DATA / GROUPS[group]).read_text().split())


def members(group: str, names: Sequence[str]) -> list[str]:
    """The dataset's classes (wnids) in the authors' group, mapped index -> wnid through
    the sorted ILSVRC-2012 list, so a dataset with a subset of the 1000 classes works too."""
    known = set(wnids())
    strangers = [n for n in names if n not in known]
    if strangers:
        raise ConfigError(
            f"splits.dissimilar: {PREFIX}{group} lists ILSVRC-2012 classes, but the dataset's "
            f"classes {strangers[:5]}{' ...' if len(strangers) > 5 else ''} are not ILSVRC-2012 "
            "wnids (class folders must be named by wnid, e.g. n01440764)"
        )
    wanted = {wnids()[i] for i in indices(group)}
    return [n for n in names if n in wanted]
