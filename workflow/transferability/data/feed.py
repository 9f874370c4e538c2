"""How a training job reads its half of the decode-once store (store.py, store_loader.py):
from the memory map or from RAM, with how many gather threads and how many batches ahead.

None of it changes a number: the same rows go into the same batches in the same order,
and the crops and mirrors are drawn as before, so a net trains to the same bits whichever
way its rows arrive (tests/test_pipeline_feed.py). The config keys live under `dataset`
and are absent by default, so the settings of existing runs are unchanged:

    dataset:
      store_in_memory: true   # read the half's rows once, sequentially, into RAM
      gather_threads: 4       # threads copying rows into batches (default 1)
      prefetch_batches: 3     # batches gathered ahead of the step (default 2)
      stage_to: $TMPDIR/transferability   # copy the store to node-local disk first

Staging is done by each job, not by a rule: a rule's job runs on one node, and the copy is
needed on every node that trains. The first job on a node copies; the others on that node
wait for it and reuse the copy (store.stage_store).

Torch-free at import, like the rest of data/.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Feed:
    # True: the half's rows are read once, in file order, into one array in RAM
    # (store.half_bytes of memory); False: rows are page-faulted from the memory map as
    # batches touch them, which is fine only where the page cache holds the store.
    in_memory: bool = False
    # Threads gathering batches (each gathers whole batches; batches still arrive in
    # order). One keeps up with a full cell on a GPU; frozen cells run 2-3x faster.
    gather_threads: int = 1
    # Batches gathered (and on a GPU copied) ahead of the step that needs them.
    prefetch: int = 2
    # Page-lock the in-memory half (CUDA only). Off: every batch is copied out of the
    # half into a pinned batch buffer anyway, so pinning 131 GB would save no copy and
    # cost a long cudaHostAlloc and memory the kernel can never reclaim.
    pin_half: bool = False
    # A folder on node-local disk for a copy of the store (environment variables such as
    # $TMPDIR or $SLURM_TMPDIR expanded on the node); None: read the store where it is.
    stage_to: str | None = None

    def stage_dir(self) -> str:
        """stage_to with the node's environment variables filled in; refused if one is
        not set there (the copy would land in a folder literally named `$TMPDIR`)."""
        import os

        folder = os.path.expandvars(self.stage_to)
        if "$" in folder:
            raise ConfigError(
                f"dataset.stage_to: {self.stage_to!r} names a variable this node does not "
                "set; use a path or a variable every training node sets ($TMPDIR)"
            )
        return folder

    @property
    def in_flight(self) -> int:
        """Batches being gathered at once: enough to give every thread one."""
        return max(self.prefetch, self.gather_threads)


# config key under `dataset` -> Feed field
KEYS = {
    "store_in_memory": "in_memory",
    "gather_threads": "gather_threads",
    "prefetch_batches": "prefetch",
    "stage_to": "stage_to",
}


def job_settings(config: dict) -> dict:
    """What a training job's settings carry of the feed: {"feed": {...}} with the keys the
    config sets, or nothing (so the settings of a config without them stay the same)."""
    dataset = config.get("dataset", {})
    chosen = {field: dataset[key] for key, field in KEYS.items() if key in dataset}
    return {"feed": chosen} if chosen else {}


def from_settings(value) -> Feed:
    """The Feed of a job's settings["feed"] (None or {}: the defaults); bad values are
    refused naming the config key."""
    if value is None:
        return Feed()
    if isinstance(value, Feed):
        return value
    keys = {field: key for key, field in KEYS.items()} | {"pin_half": "pin_half"}
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ConfigError(f"feed settings {unknown}: not known; use {sorted(KEYS)} under dataset")
    feed = Feed(**value)
    for field in ("gather_threads", "prefetch"):
        number = getattr(feed, field)
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ConfigError(f"dataset.{keys[field]}: {number!r}; use a whole number >= 1")
    return feed


def describe(feed: Feed) -> dict:
    return asdict(feed)
