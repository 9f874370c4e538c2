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


def executor(argv: Sequence[str], environ: Mapping[str, str], cwd: Path, home: Path) -> str | None:
    """The executor a run uses: `--executor`/`-e`, else the last user profile's `executor:`."""
    given = _values(argv, "--executor") + _values(argv, "-e")
    if given:
        return given[-1]
    found = None
    for path in user_profiles(argv, environ, cwd, home):
        settings = yaml.safe_load(path.read_text()) or {}
        found = settings.get("executor", found)
    return found
