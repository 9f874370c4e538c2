"""Settings files: what each job's outputs depend on, as a file that is one of its inputs.

Snakemake reruns a job whose params or code changed only where its own metadata in
`.snakemake/` says so: after `rm -rf .snakemake`, or with `results:` spelled another way
(`./results`, an absolute path), a config change reran nothing. So at the start of a run
(common.smk) every job's settings (resolved config, code fingerprint, and for a net the
identity of its inputs) go into a small JSON file under <results>/settings/, rewritten only
when its content changes. The file is an input of its job: a changed file is newer than
the job's outputs, and Snakemake's oldest rule, modification times, reruns exactly the
jobs whose settings changed and everything made from their outputs.

A file written while the outputs it describes already exist gets an older time than them
where they provably match it (a net's metrics file records the key of its settings) or
where there was no file before (results made before these files existed, or the folder
deleted): those are left to Snakemake's own metadata, never retrained on a guess.

Standard library only: the Snakefile uses it at start.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .atomic import write_text


def digest(value) -> str:
    """A short hash of a JSON value, independent of key order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def keyed(content: dict) -> dict:
    """The content with its own key: what a net's metrics file records as provenance_key."""
    return {**content, "key": digest(content)}


def text(content: dict) -> str:
    return json.dumps(content, indent=1, sort_keys=True) + "\n"


def recorded_key(metrics: str | Path) -> str | None:
    """The settings key a net's metrics file records (None: no file, or none recorded)."""
    try:
        return json.loads(Path(metrics).read_text()).get("provenance_key")
    except (OSError, ValueError, AttributeError):
        return None


def sync(path: str | Path, content: dict, outputs: list[str], recorded=None) -> str:
    """Write `content` to `path` if it differs: "same" (untouched), "changed" (written,
    newer than the outputs: the job reruns) or "kept" (written, older than the outputs:
    they match it, or nothing recorded otherwise). `recorded`: a function giving the key the
    outputs record, for a net."""
    path, new = Path(path), text(content)
    try:
        old = path.read_text()
    except OSError:
        old = None
    if old == new:
        return "same"
    write_text(path, new)
    stamps = [Path(o).stat().st_mtime_ns for o in outputs if Path(o).exists()]
    if not stamps or len(stamps) < len(outputs):
        return "changed"
    matches = recorded() == content.get("key") if recorded else old is None
    if not matches:
        return "changed"
    older = min(stamps) - 1_000_000_000
    os.utime(path, ns=(older, older))
    return "kept"


def differs(path: str | Path, content: dict) -> bool:
    """Whether `sync` would rewrite the file (for a dry run, which writes nothing)."""
    try:
        return Path(path).read_text() != text(content)
    except OSError:
        return False  # a dry run of a fresh folder: every job runs anyway


class NetSettings:
    """The settings file of each net of a config: its resolved settings, the fingerprint of
    the code that trains it, and the identity of its inputs (data, split, base net)."""

    def __init__(self, config: dict, code_fingerprint):
        from . import grid  # the grid imports the data modules: only when nets are asked for

        self.grid, self.config, self.code = grid, config, code_fingerprint
        self._settings: dict = {}
        self._splits: dict = {}
        self._bases: dict = {}
        self.data = digest(config["dataset"])

    def settings(self, treatment: str) -> dict:
        if treatment not in self._settings:
            self._settings[treatment] = self.grid.train_settings(self.config, treatment)
        return self._settings[treatment]

    def _inputs(self, split: str) -> dict:
        if split not in self._splits:
            self._splits[split] = digest(self.grid.split_settings(self.config, split))
        return {"data": self.data, "split": self._splits[split]}

    def base(self, split: str, half: str, seed: int) -> dict:
        if (split, half, seed) not in self._bases:
            net = {"split": split, "target": half, "treatment": "base", "n": 0, "seed": seed}
            self._bases[split, half, seed] = keyed(
                {
                    "net": net,
                    "settings": self.settings("base"),
                    "code_fingerprint": self.code("train-base"),
                    "inputs": self._inputs(split),
                }
            )
        return self._bases[split, half, seed]

    def cell(self, split: str, target: str, treatment: str, n: int, seed: int) -> dict:
        source = self.grid.source_half(treatment, target)
        base = None if source == "none" else self.base(split, source, seed)["key"]
        net = {"split": split, "target": target, "treatment": treatment, "n": n, "seed": seed}
        return keyed(
            {
                "net": net,
                "settings": self.settings(treatment),
                "code_fingerprint": self.code("train-cell"),
                "inputs": self._inputs(split) | {"base": base},
            }
        )


def read(path: str | Path) -> dict:
    """A settings file given to a job (`--provenance`)."""
    from .errors import DataError

    try:
        content = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise DataError(
            f"{path}: not a readable settings file ({e}); delete it, the next `snakemake` "
            "run writes it again"
        ) from e
    if not isinstance(content, dict) or "key" not in content:
        raise DataError(
            f"{path}: not a settings file of this workflow; delete it, the next `snakemake` "
            "run writes it again"
        )
    return content
