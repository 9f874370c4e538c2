"""A SLURM run whose training jobs would go to the default partition stops at start.

Training jobs ask for a GPU (gres gpu:1) but not for a partition: that is the cluster's,
set in the user's profile (slurm/config.yaml). Without one SLURM puts them in the
default partition, on many clusters GPU-less, where they are refused at submission or
pend for ever. This check finds the partition as Snakemake would (the command line's
--set-resources / --default-resources, else the profiles' `set-resources:` and
`default-resources:`) and names the key to set where there is none. Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

# The rules that train nets on a GPU (workflow/rules/train.smk).
GPU_RULES = ("train_base", "train_cell")
KEY = "slurm_partition"


def _pairs(value) -> dict:
    """A resources setting as {name: value}: a mapping, or Snakemake's "name=value" list."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str):
        value = [value]
    pairs = {}
    for item in value or []:
        name, _, setting = str(item).partition("=")
        pairs[name.strip()] = setting.strip()
    return pairs


def _per_rule(value) -> dict[str, dict]:
    """`set-resources` as {rule: {name: value}}: a mapping of mappings, or "rule:name=value"."""
    if isinstance(value, Mapping):
        return {str(rule): _pairs(setting) for rule, setting in value.items()}
    rules: dict[str, dict] = {}
    for item in [value] if isinstance(value, str) else value or []:
        rule, _, setting = str(item).partition(":")
        rules.setdefault(rule.strip(), {}).update(_pairs([setting]))
    return rules


def partition_problem(profile: Mapping, where: str = "slurm/config.yaml") -> str | None:
    """Why the training jobs of this SLURM profile (a profile's settings, as read from its
    YAML) would go to the default partition, or None when each has a partition."""
    default = _pairs(profile.get("default-resources")).get(KEY)
    rules = _per_rule(profile.get("set-resources"))
    missing = [r for r in GPU_RULES if not (rules.get(r, {}).get(KEY) or default)]
    if not missing:
        return None
    entries = "".join(f"\n    {rule}:\n      {KEY}: <your GPU partition>" for rule in missing)
    return (
        f"{where}: no `{KEY}` for {', '.join(missing)}, so SLURM would send these GPU jobs "
        f"to the default partition (often without GPUs). Set it under `set-resources:`"
        f"{entries}\n  (see `sinfo -s` for the partitions; a `{KEY}` under "
        "`default-resources:` would send every job there)"
    )


def _flag_values(argv: Sequence[str], flag: str) -> list[str]:
    """Every value after `flag` up to the next option (Snakemake's nargs="+" flags)."""
    values, taking = [], False
    for arg in argv:
        if arg == flag:
            taking = True
        elif arg.startswith("-"):
            taking = False
        elif taking:
            values.append(arg)
    return values


def run_partition_problem(
    argv: Sequence[str], environ: Mapping[str, str], cwd: Path, home: Path
) -> str | None:
    """partition_problem of this run: the user profiles merged key by key at the top level
    (the last wins, as Snakemake merges them), then the command line's resource flags."""
    from .profiles import user_profiles

    merged: dict = {}
    paths = user_profiles(argv, environ, cwd, home)
    for path in paths:
        merged |= yaml.safe_load(path.read_text()) or {}
    if given := _flag_values(argv, "--default-resources"):
        merged["default-resources"] = _pairs(merged.get("default-resources")) | _pairs(given)
    if given := _flag_values(argv, "--set-resources"):
        rules = _per_rule(merged.get("set-resources"))
        for rule, setting in _per_rule(given).items():
            rules[rule] = rules.get(rule, {}) | setting
        merged["set-resources"] = rules
    where = " and ".join(str(p) for p in paths) or "the command line"
    return partition_problem(merged, where)
