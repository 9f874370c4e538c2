"""The experiment grid from a config: which splits, base nets and cells exist, and the
resolved settings each of them depends on. Pure Python, no torch: the Snakefile calls
it at start, and tests use it to know which nets a run must produce.
"""

from __future__ import annotations

from dataclasses import dataclass

from .data import feed, sources, store_jpeg
from .data.splits import HALVES, resolve_groups
from .errors import ConfigError
from .treatments import BY_NAME, CELL_TREATMENTS, REGISTRY, source_half  # noqa: F401  (re-exported)

# A cell's treatments and those that fine-tune, from the one registry (treatments.py).
TREATMENTS = CELL_TREATMENTS
FINE_TUNED = tuple(t.name for t in REGISTRY if t.fine_tunes)


@dataclass(frozen=True, order=True)
class Base:
    split: str
    half: str
    seed: int


@dataclass(frozen=True, order=True)
class Cell:
    split: str
    target: str
    treatment: str
    n: int
    seed: int


def split_names(config: dict) -> list[str]:
    names = [f"random{i}" for i in range(config["splits"]["random"])]
    if config["splits"]["dissimilar"]["enabled"]:
        names.append("dissimilar")
    return names


def seeds(config: dict, split: str) -> list[int]:
    """The seeds of a split's nets: the dissimilar split may have its own."""
    if split == "dissimilar":
        return config["splits"]["dissimilar"].get("seeds") or config["seeds"]
    return config["seeds"]


def treatments(config: dict, split: str) -> list[str]:
    """The treatments trained on a split: the dissimilar split may run fewer (the paper: AnB),
    and `splits.treatment_splits` runs a treatment on the first k random splits only."""
    if split == "dissimilar":
        return config["splits"]["dissimilar"].get("treatments") or config["treatments"]
    index = int(split.removeprefix("random"))
    only_first = config["splits"].get("treatment_splits", {})
    return [t for t in config["treatments"] if index < only_first.get(t, index + 1)]


def bases(config: dict) -> list[Base]:
    """Base nets the cells need (and always both halves: they are the n = 0 points)."""
    return [
        Base(s, h, seed) for s in split_names(config) for h in HALVES for seed in seeds(config, s)
    ]


def cells(config: dict) -> list[Cell]:
    return [
        Cell(s, t, treatment, n, seed)
        for s in split_names(config)
        for t in HALVES
        for treatment in treatments(config, s)
        for n in sorted(config["layers"])
        for seed in seeds(config, s)
    ]


def subset_settings(config: dict) -> dict:
    """Which images of each class a net sees: the same in every split (splits.py)."""
    subset = config["subset"]
    return {
        "dataset": config["dataset"]["name"],
        "train_per_class": subset["train_per_class"],
        "val_per_class": subset["val_per_class"],
        "test_per_class": subset["test_per_class"],
        "subset_seed": subset["seed"],
    }


def reference_seed(config: dict) -> int:
    """The seed of the task distance's reference net: the run's first."""
    return config["seeds"][0]


def store_settings(config: dict) -> dict:
    """What rule store_images makes the store from: the size, and the form where the config
    names one (absent: raw rows, so the settings of existing stores stay the same)."""
    dataset = config["dataset"]
    settings = {"resize": dataset["resize"]}
    if "store_format" in dataset:
        settings["format"] = dataset["store_format"]
        if settings["format"] == "jpeg":
            settings["quality"] = dataset.get("store_quality", store_jpeg.QUALITY_DEFAULT)
    return settings


def split_settings(config: dict, split: str) -> dict:
    """Everything a split file depends on."""
    settings = subset_settings(config)
    dissimilar = config["splits"]["dissimilar"]
    groups = {h: dissimilar[h] for h in HALVES} if dissimilar["enabled"] else None
    if groups and any(e.startswith(sources.WORDNET_PREFIX) for h in HALVES for e in groups[h]):
        settings["wordnet_root"] = config["dataset"]["wordnet_root"]
    if split == "dissimilar":
        return settings | {"kind": "dissimilar", "groups": groups}
    index = int(split.removeprefix("random"))
    first = config["splits"]["seed"]
    settings |= {"kind": "random", "seed": first + index}
    # Random splits differ from each other and from the dissimilar split (a repeat is
    # redrawn, splits.distinct_halves): the draw depends on the earlier seeds and groups.
    settings |= {"earlier_seeds": [first + i for i in range(index)], "avoid_groups": groups}
    # The draw: Python's shuffle (the default, no key: existing split files stay valid) or
    # the authors' numpy draw. Both are kind "random" to the figures and claims.
    if config["splits"].get("random_kind", "random") == "paper_random":
        settings["rule"] = "paper_random"
    return settings


def model_settings(config: dict) -> dict:
    return {k: v for k, v in sorted(config["model"].items())}


def recipe(config: dict, treatment: str) -> dict:
    """The base recipe, overridden by `training.cell` for cells, `training.finetune` for *_ft
    and last by `training.by_treatment[treatment]` for that treatment's cells; its lr then
    times the treatment's `lr_scale` (the registry's quarter-lr random arms)."""
    training = config["training"]
    merged = dict(training["base"])
    if treatment != "base":
        merged |= training.get("cell", {})
    if treatment in FINE_TUNED:
        merged |= training.get("finetune", {})
    merged |= training.get("by_treatment", {}).get(treatment, {})
    scale = BY_NAME[treatment].lr_scale if treatment in BY_NAME else 1.0
    if scale != 1.0:  # a registry arm at a fraction of the lr (treatments.Treatment.lr_scale)
        merged["lr"] = merged["lr"] * scale
    return dict(sorted(merged.items()))


def recipe_keys(config: dict) -> list[tuple[str, str]]:
    """Each recipe a config can give, as (its config key, a treatment that gets it)."""
    keys = [("base", "base"), ("cell", "cell"), ("finetune", FINE_TUNED[0])]
    return keys + [(f"by_treatment.{t}", t) for t in config["training"].get("by_treatment", {})]


def train_settings(config: dict, treatment: str) -> dict:
    # How the store is read (data/feed.py) changes no number, but the job must be told; it
    # is added only where the config sets it, so other configs' settings stay the same.
    return {
        "model": model_settings(config),
        "recipe": recipe(config, treatment),
        **feed.job_settings(config),
    }


def reference_settings(config: dict) -> dict:
    """What the task distance's reference net (every class, training/reference.py) depends
    on: the images of each class and the base nets' model and recipe."""
    return {"data": subset_settings(config), **train_settings(config, "base")}


def validate(config: dict, cache_exists: bool = False) -> None:
    """Checks the JSON schema cannot express; each error names the key and the fix."""
    dataset = config["dataset"]
    # Generated data (dataset.generate) is made by the workflow: nothing to check yet.
    problem = None if cache_exists or dataset.get("generate") else sources.data_problem(dataset)
    if problem:
        raise ConfigError(problem)
    if dataset.get("generate") and dataset["name"] not in sources.STREAMED:
        raise ConfigError(
            "dataset.generate: generated images are an ImageFolder; set dataset.name: "
            f"imagefolder (or another of {list(sources.STREAMED)}) or remove dataset.generate"
        )
    if not split_names(config):
        raise ConfigError(
            "splits: no split to run; set splits.random >= 1 or splits.dissimilar.enabled: true"
        )
    dissimilar = config["splits"]["dissimilar"]
    if dissimilar["enabled"]:
        if "A" not in dissimilar or "B" not in dissimilar:
            raise ConfigError(
                "splits.dissimilar: give the class names of both halves (A and B) "
                "or set splits.dissimilar.enabled: false"
            )
        # A streamed dataset's classes are its folders: checkable only while they are there.
        if dataset["name"] not in sources.STREAMED or sources.data_problem(dataset) is None:
            names = sources.class_names(dataset)
            resolve_groups(names, sources.expand_groups(dataset, names, dissimilar))
    for key, treatment in recipe_keys(config):
        steps = recipe(config, treatment)["lr_steps"]
        if list(steps) != sorted(steps):
            raise ConfigError(f"training.{key}.lr_steps: must be increasing, got {steps}")
    check_batch_size(config)


def _smallest_half(config: dict) -> int | None:
    """Classes in the smallest half of any split, where known without the data."""
    dataset = config["dataset"]
    if dataset["name"] in sources.STREAMED and sources.data_problem(dataset) is not None:
        return None
    names = sources.class_names(dataset)
    sizes = [len(names) // 2] if config["splits"]["random"] else []
    dissimilar = config["splits"]["dissimilar"]
    if dissimilar["enabled"]:
        groups = resolve_groups(names, sources.expand_groups(dataset, names, dissimilar))
        sizes += [len(groups[h]) for h in HALVES]
    return min(sizes) if sizes else None


def check_batch_size(config: dict) -> None:
    """A batch larger than a half's training set makes every epoch one step: every net
    then "did not learn", with nothing to say why."""
    per_class = config["subset"]["train_per_class"]
    if per_class is None or not (classes := _smallest_half(config)):
        return  # all images of a class: checked by the job, which knows how many
    images = per_class * classes
    for key, treatment in recipe_keys(config):
        batch = recipe(config, treatment)["batch_size"]
        if batch > images:
            raise ConfigError(
                f"training.{key}.batch_size: {batch} is larger than the training set of the "
                f"smallest half ({classes} classes x subset.train_per_class {per_class} = "
                f"{images} images), so each epoch would be one step and no net would learn; "
                f"set batch_size to at most {images} or raise subset.train_per_class"
            )
