"""Steps that run where HOME cannot be written (a cluster node without a home folder,
HOME=/nonexistent, a read-only home).

matplotlib keeps its font cache under HOME (~/.cache/matplotlib, ~/.config/matplotlib).
Where it cannot, it falls back to a temporary folder itself, but with a two-line warning in
the figures log that names neither HOME nor the fix. Here the same fallback is taken before
matplotlib is imported, said in one line. Torch-free and matplotlib-free: it runs before
every step (__main__.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path


def first_unwritable(folder: Path) -> Path | None:
    """The folder that stops `folder` from being created or written: itself, or the
    nearest existing ancestor (or a file standing in the way); None when it can be."""
    path = folder
    while not path.exists() and path.parent != path:
        path = path.parent
    if path.is_dir() and os.access(path, os.W_OK | os.X_OK):
        return None
    return path


def home(environ: MutableMapping[str, str]) -> Path:
    return Path(environ["HOME"]) if environ.get("HOME") else Path.home()


def matplotlib_folders(environ: MutableMapping[str, str]) -> list[Path]:
    """Where matplotlib keeps its config and its cache on Linux without MPLCONFIGDIR."""
    config = Path(environ.get("XDG_CONFIG_HOME") or home(environ) / ".config")
    cache = Path(environ.get("XDG_CACHE_HOME") or home(environ) / ".cache")
    return [config / "matplotlib", cache / "matplotlib"]


def use_writable_matplotlib_folder(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Point MPLCONFIGDIR at a temporary folder (removed at exit) when matplotlib's folders
    under HOME cannot be written; a one-line note naming HOME and the fix, or None when
    nothing had to change (one set by the user is left to matplotlib)."""
    if environ.get("MPLCONFIGDIR"):
        return None
    blocked = next(filter(None, map(first_unwritable, matplotlib_folders(environ))), None)
    if blocked is None:
        return None
    folder = tempfile.mkdtemp(prefix="matplotlib-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    environ["MPLCONFIGDIR"] = folder
    return (
        f"note: {blocked} is not a writable folder (HOME is {home(environ)}), so matplotlib's "
        f"cache is in {folder} for this step only; set MPLCONFIGDIR (or XDG_CACHE_HOME and "
        "XDG_CONFIG_HOME) to a writable folder to keep it"
    )
