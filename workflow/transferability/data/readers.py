"""Which module reads each kind of cache into a training job's half (halves.py).

The reader is imported by name, not by an import statement, so a net's code fingerprint
(provenance.py) covers the reader of its own data and no other: the runtime's plan adds
the reader of the config's cache kind to the key of every net (`read-<kind>`). A change
to the store's reader retrains the nets trained through the store, and no Fashion-MNIST
net, whose tensors are normalised in halves.py itself. Torch-free.
"""

from __future__ import annotations

import importlib

# Data, not code (provenance.py): a net's key holds its own reader's modules instead.
PROVENANCE_DATA = ("READERS",)
# cache kind (the "kind" of its descriptor) -> the module, by its path in the package,
# whose `read_half(cache_path, cache, half, relabel, feed)` gives the half's images.
READERS = {"imagefolder": "data.imagefolder", "stored": "data.store_loader"}


def reader(kind: str | None):
    """The reader module of a cache of `kind`, or None for a tensor cache."""
    if kind not in READERS:
        return None
    package = __package__.rpartition(".")[0]
    return importlib.import_module(f"{package}.{READERS[kind]}")
