"""Snakemake itself writes under HOME: its source cache is ~/.cache/snakemake (platformdirs,
so $XDG_CACHE_HOME/snakemake where that is set). Where that folder cannot be made, it stops
with a traceback from os.makedirs before it reads the Snakefile, so no check of the
Snakefile runs early enough to name HOME and the fix: a wrapper (the Makefile) runs this
first, `PYTHONPATH=workflow python -m transferability_runtime.homecheck`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from transferability.home import first_unwritable, home


def snakemake_cache_problem(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """One line naming HOME and the fix when Snakemake's cache folder cannot be made."""
    cache = Path(environ.get("XDG_CACHE_HOME") or home(environ) / ".cache") / "snakemake"
    blocked = first_unwritable(cache)
    if blocked is None:
        return None
    return (
        f"HOME: {blocked} is not a writable folder (HOME is {home(environ)}), and Snakemake "
        f"keeps its cache in {cache}; give it a writable one before running snakemake, e.g. "
        "`export XDG_CACHE_HOME=/tmp/$USER-cache`"
    )


if __name__ == "__main__":
    if problem := snakemake_cache_problem():
        sys.exit(f"error: {problem}")
