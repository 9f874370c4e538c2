"""Reading what prepare_data (or store_images) wrote: the tensor cache of a small dataset,
the index of an ImageFolder, or the descriptor of a decoded store. Every kind is one
torch-saved dict, so one reader serves them all.

Torch is imported by the function, not at import: the Snakefile imports the data modules.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, load_failure


def load_cache(path: str | Path) -> dict:
    import torch

    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # torch raises many types for a bad pickle/zip
        raise DataError(
            f"{path}: cannot load the data cache ({load_failure(e)}); "
            "delete it and rerun prepare_data"
        ) from e
