"""No setting of a user's Snakemake profile is dropped without a word.

Snakemake merges `--profile` and the workflow profile (profiles/default/, loaded last) key
by key at the top level: a top-level key of the workflow profile replaces the same key of
the user's profile whole. A user's `set-resources:` (a GPU partition for the training
rules, say) would vanish under the workflow profile's. The workflow profile therefore keeps
to keys a user has no reason to set, and this check, run when the Snakefile is read, stops
the run where a user's profile sets one of them anyway, naming the key and the fix.

Profiles are found as Snakemake finds them (snakemake/cli.py): `--profile` values (or
$SNAKEMAKE_PROFILE), each a folder given by path or by name under the current directory,
~/.config/snakemake or /etc/xdg/snakemake, holding profile.yaml or config.yaml.
Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

PROFILE_FILES = ("profile.yaml", "config.yaml")


def _values(argv: Sequence[str], flag: str) -> list[str]:
    found = []
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith(flag + "="):
            found.append(arg.split("=", 1)[1])
    return found


def profile_file(name: str, cwd: Path, home: Path) -> Path | None:
    folders = [Path(name)] if Path(name).is_absolute() else [cwd / name]
    if not Path(name).is_absolute():
        folders += [home / ".config/snakemake" / name, Path("/etc/xdg/snakemake") / name]
    for folder in folders:
        for file in PROFILE_FILES:
            if (folder / file).is_file():
                return folder / file
    return None


def user_profiles(argv: Sequence[str], environ: Mapping[str, str], cwd: Path, home: Path):
    names = _values(argv, "--profile") or [n for n in [environ.get("SNAKEMAKE_PROFILE")] if n]
    return [p for p in (profile_file(n, cwd, home) for n in names if n != "none") if p]


def workflow_profile(argv: Sequence[str], cwd: Path, default: Path) -> Path | None:
    given = _values(argv, "--workflow-profile")
    if given and given[-1] == "none":
        return None
    folder = (cwd / given[-1]) if given else default
    return next((folder / f for f in PROFILE_FILES if (folder / f).is_file()), None)


def top_level_keys(path: Path) -> set[str]:
    return {str(k) for k in (yaml.safe_load(path.read_text()) or {})}


def dropped_settings(
    argv: Sequence[str], environ: Mapping[str, str], cwd: Path, home: Path, default: Path
) -> list[str]:
    """One message per user profile key that the workflow profile would replace."""
    workflow = workflow_profile(argv, cwd, default)
    if workflow is None:
        return []
    theirs = top_level_keys(workflow)
    problems = []
    for path in user_profiles(argv, environ, cwd, home):
        for key in sorted(top_level_keys(path) & theirs):
            problems.append(
                f"{path} sets `{key}:`, which the workflow profile {workflow} also sets; "
                f"Snakemake would use the workflow profile's `{key}:` whole and drop yours "
                "(profiles merge key by key at the top level). Move your entries into "
                f"{workflow} under `{key}:`, or pass them on the command line"
            )
    return problems


ARRAYED_TRAINING = {"all", "train_base", "train_cell"}


def _setting(argv, environ, cwd, home, key: str, flags: Sequence[str]):
    """A setting as Snakemake would see it: the command line first, else the last profile."""
    for flag in flags:
        if given := _values(argv, flag):
            return given[-1]
    value = None
    for path in user_profiles(argv, environ, cwd, home):
        value = (yaml.safe_load(path.read_text()) or {}).get(key, value)
    return value


def array_stall(
    argv: Sequence[str], environ: Mapping[str, str], cwd: Path, home: Path, training_jobs: int
) -> str | None:
    """Why this run's SLURM job arrays could hang it, or None.

    In array mode snakemake-executor-plugin-slurm (through 2.8.0, issue #473) drops a rule's
    ready jobs when fewer than all of them fit in the `jobs` budget, yet keeps their slots
    taken: each wave leaks slots until none is left and the run waits for ever. With `jobs`
    at least the number of training jobs every ready job fits, and nothing is dropped."""
    arrays = _setting(argv, environ, cwd, home, "slurm-array-jobs", ["--slurm-array-jobs"])
    if not arrays:
        return None
    names = {n.strip() for n in str(arrays).replace(",", " ").split()}
    if not names & ARRAYED_TRAINING:
        return None
    jobs = _setting(argv, environ, cwd, home, "jobs", ["--jobs", "-j"])
    try:
        jobs = int(jobs)
    except (TypeError, ValueError):  # unlimited, or not set: no budget to leak
        return None
    if jobs >= training_jobs:
        return None
    return (
        f"slurm-array-jobs: {arrays} with jobs: {jobs}, fewer than the {training_jobs} "
        "training jobs of this config: the SLURM plugin can then leak job slots and hang "
        "(snakemake-executor-plugin-slurm issue #473). Set jobs to at least "
        f"{training_jobs}, or turn slurm-array-jobs off (docs/cluster.md)"
    )


def executor(argv: Sequence[str], environ: Mapping[str, str], cwd: Path, home: Path) -> str | None:
    """The executor a run uses: `--executor`/`-e`, else the last user profile's `executor:`."""
    return _setting(argv, environ, cwd, home, "executor", ["--executor", "-e"])
