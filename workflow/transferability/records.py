"""The record beside every output: which job made it, from what, and what it holds.

A record (`<output>.prov.json`) says:
- `key`: the job's key, a digest of its step, settings, code fingerprint and its inputs'
  keys, computed by the workflow before anything runs (workflow/rules/common.smk). Equal
  keys mean "made the same way from the same things"; a changed setting, code or input
  changes the key of every output downstream of it.
- `sha256`: the content digest of the output as the job wrote it.
- `inputs`: for each file the job read, the key and content digest its own record gave.

A consumer checks what it reads (`check`): the record is there, its key is the one the
workflow expects now, and the file still holds what was recorded. So a file edited by hand,
copied in from another run or left by a killed job is refused, naming the command that
remakes it; the workflow's own start does the same check and simply reruns such jobs.
File times decide nothing here.

Large files are digested from a sample (`SAMPLE_ABOVE`): their size and `SAMPLES` blocks
spread evenly through them, so a 262 GB image store costs a second to check, not an
hour; a damaged stretch larger than the gap between two blocks (size / 256) is caught.
Standard library only: the Snakefile uses it at start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from pathlib import Path

from .atomic import write_text
from .errors import DataError

SUFFIX = ".prov.json"
SAMPLE_ABOVE = 1 << 30  # bytes: a larger file is digested from a sample
SAMPLES = 256
BLOCK = 1 << 20
SNAKEMAKE_STAMP = ".snakemake_timestamp"


def digest(value) -> str:
    """A short digest of a JSON value, independent of key order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def record_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size <= SAMPLE_ABOVE:
            for block in iter(lambda: f.read(BLOCK), b""):
                h.update(block)
            return h.hexdigest()
        h.update(f"sampled {size}".encode())
        for i in range(SAMPLES):
            f.seek((size - BLOCK) * i // (SAMPLES - 1))
            h.update(f.read(BLOCK))
    return "sampled:" + h.hexdigest()


def content_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (sampled above SAMPLE_ABOVE); of a folder, of its files'
    relative names and digests (but Snakemake's own `.snakemake_timestamp`, which it puts
    in a folder output after the job)."""
    path = Path(path)
    if not path.is_dir():
        return _file_digest(path)
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(f for f in files if f != SNAKEMAKE_STAMP):
            file = Path(root, name)
            h.update(f"{file.relative_to(path).as_posix()}\0{_file_digest(file)}\0".encode())
    return h.hexdigest()


def files_digest(files: list[Path], root: Path, cache: Path | None = None) -> str:
    """The content digest of source files (a dataset's raw files, an ImageFolder's images),
    by their names below `root` and their bytes. A file whose size, mtime, ctime and inode
    are those `cache` remembers is not read again: no tool sets a ctime, so a file replaced
    by one of the same size and mtime is read again and its new content counts."""
    try:
        known = json.loads(cache.read_text()) if cache else {}
    except (OSError, ValueError):
        known = {}
    seen, h = {}, hashlib.sha256()
    for file in sorted(files):
        st = file.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        name = file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
        entry = known.get(name)
        sha = entry[1] if entry and entry[0] == stamp else _file_digest(file)
        seen[name] = [stamp, sha]
        h.update(f"{name}\0{sha}\0".encode())
    if cache and seen != known:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_text(cache, json.dumps(seen))
    return h.hexdigest()


def read(output: str | Path) -> dict | None:
    """The record of an output, or None where there is none (or it is not readable)."""
    try:
        record = json.loads(record_path(output).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "key" in record else None


def remake(path: str | Path) -> str:
    return (
        "the next `snakemake` run remakes it (or, for this file alone: "
        f"snakemake --cores all --forcerun {shlex.quote(str(path))})"
    )


def problem(
    path: str | Path, key: str | None, check_content: bool = True, record: dict | None = None
) -> str | None:
    """Why `path` is not what the workflow expects now (key None: any key), or None.
    `record`: its record, where the caller has read it already."""
    record = record if record is not None else read(path)
    if record is None:
        return (
            "it has no record of what made it (a job killed before it finished, a file "
            "copied in, or made by older code)"
        )
    if key is not None and record["key"] != key:
        return (
            f"it was made with other settings, code or inputs than the config and code give "
            f"now (key {record['key']} there, {key} now)"
        )
    if check_content and record.get("sha256") != content_digest(path):
        return "its content changed after it was made (edited by hand, or damaged)"
    return None


def check(path: str | Path, key: str | None) -> dict:
    """The record of an input about to be read; a DataError naming the fix otherwise."""
    if not Path(path).exists():
        raise DataError(f"{path}: missing; {remake(path)}")
    if (why := problem(path, key)) is not None:
        raise DataError(f"{path}: {why}; {remake(path)}")
    return read(path)


def write(output: str | Path, key: str, inputs: dict[str, dict], step: str) -> None:
    """Record `output` (already written) as made by job `key` of `step` from `inputs`."""
    record = {"step": step, "key": key, "sha256": content_digest(output), "inputs": inputs}
    write_text(record_path(output), json.dumps(record, indent=1, sort_keys=True) + "\n")


def keys_digest(keys: dict[str, str | None]) -> str:
    """One digest of many inputs' paths and keys (a command line holds 2,000 of them badly)."""
    return digest(sorted(keys.items()))


class Job:
    """The provenance a job is given (`--provenance`, JSON): its key and, for each input,
    the key the workflow expects it to have, or, for a step that reads hundreds of files,
    the name of the argument listing them and one digest of their expected keys
    (`inputs_from`, `inputs_digest`). `check_inputs` before the step runs, `record` after
    it wrote its outputs."""

    def __init__(self, step: str, given: dict):
        self.step, self.key = step, given["key"]
        self.code: str | None = given.get("code")  # the fingerprint of the step's code
        self.expected: dict[str, str | None] = given.get("inputs", {})
        self.inputs_from: str | None = given.get("inputs_from")
        self.inputs_digest: str | None = given.get("inputs_digest")
        self.outputs: list[str] = given.get("outputs", [])
        self.read: dict[str, dict] = {}

    def check_inputs(self, args=None) -> None:
        for path, key in self.expected.items():
            record = check(path, key)
            self.read[path] = {"key": record["key"], "sha256": record["sha256"]}
        if self.inputs_from:
            listed = getattr(args, self.inputs_from.replace("-", "_"))
            found = {str(p): check(p, None) for p in listed}
            self.read |= {p: {"key": r["key"], "sha256": r["sha256"]} for p, r in found.items()}
            keys = {p: r["key"] for p, r in found.items()}
            if keys_digest(keys) != self.inputs_digest:
                raise DataError(
                    f"--{self.inputs_from}: the {len(keys)} files given were not all made with "
                    "the settings and code the config gives now (their keys differ from the "
                    "plan); the next `snakemake` run remakes those that are stale"
                )

    def input_digest(self, path: str | Path | None) -> str | None:
        """The content digest of an input as checked (None: not an input)."""
        entry = self.read.get(str(path)) if path else None
        return entry["sha256"] if entry else None

    def record(self) -> None:
        for output in self.outputs:
            write(output, self.key, self.read, self.step)


def job(step: str, given: str | dict | None) -> Job | None:
    """The Job of a step's `--provenance` value (None where none was given: a step run
    by hand records nothing and checks nothing)."""
    if not given:
        return None
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except ValueError as e:
            raise DataError(f"--provenance: not a JSON object ({e})") from e
    if not isinstance(given, dict) or not isinstance(given.get("key"), str):
        raise DataError('--provenance: a JSON object {"key": ..., "inputs": {...}} is needed')
    return Job(step, given)
