"""The settings a step cannot run without, checked before it starts: a step run by hand
without `--settings` (its default is {}) otherwise stops deep inside with `KeyError: 'model'`.

The workflow's rules always pass them (rule train_base: `--settings` with the net's resolved
settings as one JSON object, transferability.grid.train_settings); by hand, `snakemake -n -p
-f <an output of the step>` prints the rule's command, --settings included.
"""

from __future__ import annotations

from .errors import ConfigError

# The keys each step reads without a default: training/jobs.py (_net) and the recipe
# (training/sgd.py, Recipe.from_config).
RECIPE = (
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "lr_steps",
    "lr_gamma",
    "warmup",
)
TRAINING = {"model": ("layout",), "recipe": RECIPE}
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "train-base": TRAINING,
    "train-cell": TRAINING,
    "train-reference": TRAINING | {"data": ("train_per_class", "val_per_class", "subset_seed")},
}
# An output of each step, to name in the fix (rule train_base and rule train_cell).
EXAMPLE_OUTPUT = {
    "train-base": "results/base/random0/A/seed0/metrics.json",
    "train-cell": "results/cells/random0/B/transfer/n1/seed0/metrics.json",
    "train-reference": "results/task_distance/reference_net.json",
}


def missing_settings(step_name: str, settings: dict) -> list[str]:
    """The settings `step_name` needs that `settings` lacks, as dotted keys."""
    missing = []
    for section, keys in REQUIRED.get(step_name, {}).items():
        given = settings.get(section)
        if not isinstance(given, dict):
            missing.append(section)
            continue
        missing += [f"{section}.{key}" for key in keys if key not in given]
    return missing


def settings_problem(step_name: str, settings: dict) -> str | None:
    """One line naming the missing settings and the fix; None when nothing is missing."""
    if not isinstance(settings, dict):
        return (
            f"{step_name}: --settings is a {type(settings).__name__}, not a JSON object; "
            "pass the settings as one JSON object, as the workflow's rules do"
        )
    missing = missing_settings(step_name, settings)
    if not missing:
        return None
    needed = ", ".join(missing)
    what = (
        f"no --settings given (it needs {needed})" if not settings else f"--settings lacks {needed}"
    )
    return (
        f"{step_name}: {what}; pass --settings with the JSON of the net's resolved settings, "
        f"as the workflow's rule does (e.g. `snakemake -n -p -f {EXAMPLE_OUTPUT[step_name]}` "
        "prints its command)"
    )


def check_settings(step_name: str, settings: dict) -> None:
    """settings_problem as a ConfigError, which the command line prints in one line."""
    if problem := settings_problem(step_name, settings):
        raise ConfigError(problem)
