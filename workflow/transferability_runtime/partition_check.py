"""A SLURM run whose training jobs would go to the default partition stops at start.

Training jobs ask for a GPU (gres gpu:1) but not for a partition: that is the cluster's,
set in the user's profile (slurm/config.yaml). Without one SLURM puts them in the
default partition, on many clusters GPU-less, where they are refused at submission or
pend for ever. This check reads the resources Snakemake resolved from the profiles and the
command line (`set-resources`, `default-resources`) and names the key to set where there
is none. Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping

# The rules whose jobs ask for a GPU: the nets (workflow/rules/train.smk) and the smoke
# run's driver check (smoke.smk).
GPU_RULES = ("train_base", "train_cell", "train_reference", "check_driver")
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


def settings_partition_problem(resource_settings) -> str | None:
    """partition_problem of this run, from the resources Snakemake resolved from the
    profiles and the command line (workflow.resource_settings: `default_resources`,
    `overwrite_resources` per rule), read when the run starts (common.smk, onstart)."""
    profile = {
        "default-resources": dict(resource_settings.default_resources or {}),
        "set-resources": {
            rule: dict(setting) for rule, setting in resource_settings.overwrite_resources.items()
        },
    }
    return partition_problem(profile, "the slurm profile (slurm/config.yaml) and command line")
