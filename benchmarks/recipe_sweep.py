"""Which training recipe lets every net of the default learn? (issue 11)

Trains the nets most prone to fail — frozen random layers at n = 5, 6, 7, where a fresh
fc6/fc7/fc8 sits on frozen random features — plus base nets and BnB at n = 1, 2 (did the
base converge?), under each recipe given, and prints per recipe: how many nets ended in a
status other than `trained`, the worst dead-unit fraction seen in a trainable layer, and
mean base top-1 and BnB(n=1,2) - base. Per-epoch rows go to a CSV for the README's figures.

    .venv/bin/python benchmarks/recipe_sweep.py --recipes '{"lr": 0.03}' '{"lr": 0.01}'

Each recipe is a JSON object of overrides of config/config.yaml's training.base, or
{"base": {...}, "cell": {...}} to override base nets and cells apart.
Uses the data cache and split files of the run folder (--results, or the `results` of
config/config.yaml and any --configfile given), and makes those missing first (snakemake
<results>/splits/...). --quick: one recipe of one epoch, three nets, in a
scratch folder: checks the script runs.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from transferability_runtime.reference import run_config  # noqa: E402


def _job(job: dict) -> list[dict]:
    from transferability.training import jobs

    out = Path(job["tmp"]) / f"{job['name']}.json"
    common = dict(
        cache=job["cache"],
        split_file=job["split_file"],
        split=job["split"],
        seed=job["seed"],
        settings=job["settings"],
        threads=1,
        out_metrics=out,
    )
    if job["treatment"] == "base":
        record = jobs.train_base(half=job["target"], out_model=job["model"], **common)
    else:
        record = jobs.train_cell(
            target=job["target"], treatment=job["treatment"], n=job["n"], base=job["base"], **common
        )
    from transferability.analysis.results_table import judged

    record = judged(record)  # the status the aggregate step gives it
    keys = ("split", "target", "treatment", "n", "seed", "top1", "status", "status_reason")
    row = {k: record.get(k) for k in keys} | {"recipe": job["recipe"]}
    return [row | h for h in record["history"]]


def make_inputs(results: Path, cache: str, splits: list[str], config: dict, configfiles) -> None:
    """The data cache and split files the sweep reads, made by the workflow where missing
    (a fresh clone has none), with the same config files as the sweep."""
    from _snakemake_run import snakemake

    targets = [results / "splits" / f"{s}.json" for s in splits]
    if Path(cache).exists() and all(t.exists() for t in targets):
        return
    # The folder the workflow runs in: the one where the config's `results` is `results`.
    relative = Path(config.get("results", "results"))
    if relative.is_absolute() or results.parts[-len(relative.parts) :] != relative.parts:
        sys.exit(f"--results {results}: missing {cache} or split files; make them first")
    workdir = Path(*results.parts[: -len(relative.parts)])
    configs = [arg for path in configfiles for arg in ("--configfile", str(Path(path).resolve()))]
    targets = [str(t.relative_to(workdir)) for t in targets]
    snakemake(workdir, "--cores", "2", *configs, *targets, check=True, timeout=3600)


def inputs(args, config: dict) -> str:
    """The data cache a sweep reads (args.results: the run folder), made where missing."""
    results = Path(args.results or REPO / config.get("results", "results")).resolve()
    args.results = str(results)
    cache = f"{results}/data/{config['dataset']['name']}.pt"
    make_inputs(results, cache, args.splits, config, args.configfile)
    return cache


def _net(common: dict, config: dict, name: str, treatment: str, n: int, base=None) -> dict:
    """One net to train: its settings under this recipe, named after its base's name."""
    from transferability import grid

    settings = grid.train_settings(config, treatment)
    return common | dict(
        name=f"{name}-{treatment}{n}", treatment=treatment, n=n, base=base, settings=settings
    )


def sweep_options(ap: argparse.ArgumentParser, splits: list[str], out: str, quick: str) -> None:
    """The options every sweep of base recipes takes."""
    ap.add_argument("--recipes", nargs="+", default=["{}"], help="JSON overrides of training.base")
    ap.add_argument("--splits", nargs="+", default=splits)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument(
        "--configfile", nargs="+", default=[], metavar="FILE",
        help="config files merged over config/config.yaml, as snakemake takes them: the data "
        "subset, split seeds and starting recipe (e.g. config/study.yaml "
        "config/study-replicate.yaml); recipes override its training.base",
    )  # fmt: skip
    ap.add_argument(
        "--results", help="the run folder whose data cache and split files are read or made "
        "(default: the config's `results`)",
    )  # fmt: skip
    ap.add_argument("--out", default=out, help="the table")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help=quick)


def base_nets(args, config: dict, text: str, label: str, tmp: str, cache: str, halves):
    """(fields a net of this base shares, the base net's job) for each split, half and seed:
    a sweep adds the cells it needs beside each base."""
    for split, half, seed in itertools.product(args.splits, halves, args.seeds):
        name = f"{label}-{split}-{half}-{seed}"
        common = dict(
            recipe=text, tmp=tmp, cache=cache, split=split, target=half, seed=seed,
            split_file=f"{args.results}/splits/{split}.json", model=f"{tmp}/{name}.pt",
        )  # fmt: skip
        yield name, common, _net(common, config, name, "base", 0)


def run_jobs(workers: int, job, *stages: list[dict]) -> list[dict]:
    """Every job's rows, stage after stage (cells read the base nets of the stage before)."""
    rows = []
    with ProcessPoolExecutor(workers) as pool:
        for stage in stages:
            for result in pool.map(job, stage):
                rows += result
    return rows


def overridden(config: dict, recipe: dict) -> dict:
    """The config with a recipe's overrides: {"lr": ...} for every net, or
    {"base": {...}, "cell": {...}} for base nets and cells apart."""
    config = copy.deepcopy(config)
    if not {"base", "cell"} & set(recipe):
        recipe = {"base": recipe}
    for kind, values in recipe.items():
        config["training"][kind] = config["training"].get(kind, {}) | values
    return config


def summarise(table, out: str, random_n) -> None:
    """Per recipe: nets not trained (with reasons), worst dead fraction, base and BnB gap."""
    table.to_csv(out, index=False)
    dead = [c for c in table.columns if c.startswith("dead_")]
    keys = ["recipe", "split", "target", "treatment", "n"]
    last = table.sort_values("epoch").groupby(keys, sort=False).last().reset_index()
    recipes = list(last["recipe"].unique())
    for recipe, nets in last[last["recipe"] == recipes[-1]].groupby("recipe", sort=False):
        index = len(recipes) - 1
        base = nets[nets.treatment == "base"].set_index(["split", "target"])["top1"]
        bnb = nets[nets.treatment == "selffer"].set_index(["split", "target"])["top1"]
        gap = (bnb - base.reindex(bnb.index)).mean()
        random = nets[nets.treatment == "random"]
        bad = nets[nets.status != "trained"]
        reasons = ", ".join(
            f"{r.split}/{r.target}/{r.treatment}/n{r.n} ({r.status_reason})"
            for r in bad.itertuples()
        )
        print(f"recipe {recipe}: {len(nets)} nets, {len(bad)} not trained: {reasons}")
        print(f"  worst final dead fraction in a trainable layer: {nets[dead].max().max():.2f}")
        print(f"  random n={random_n}: mean top1 {random.top1.mean():.4f}")
        print(f"  base: mean top1 {base.mean():.4f}; BnB(n=1,2) - base: {gap:+.4f}")
        print(f"RESULT recipe{index}_nets_not_trained {len(bad)} nets", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sweep_options(
        ap, ["random0", "random1", "random2", "dissimilar"], "recipe_sweep.csv",
        quick="3 nets of 1 epoch: checks it runs",
    )  # fmt: skip
    ap.add_argument("--halves", nargs="+", default=["A", "B"])
    ap.add_argument("--random-n", nargs="+", type=int, default=[5, 6, 7])
    ap.add_argument("--selffer-n", nargs="*", type=int, default=[1, 2], help="none: no base nets")
    args = ap.parse_args()

    import pandas as pd

    default = run_config(args.configfile)
    tmp = tempfile.mkdtemp(prefix="recipe-sweep-")
    if args.quick:
        args.recipes, args.splits, args.halves = ['{"epochs": 1}'], ["random0"], ["A"]
        args.random_n, args.selffer_n, args.results = [7], [1], f"{tmp}/results"
        args.out = f"{tmp}/recipe_sweep.csv"
    cache = inputs(args, default)
    rows = []
    for text in args.recipes:
        config = overridden(default, json.loads(text))
        jobs, bases = [], []
        nets = base_nets(args, config, text, str(abs(hash(text))), tmp, cache, args.halves)
        for name, common, base in nets:
            bases.append(base)
            jobs += [_net(common, config, name, "random", n) for n in args.random_n]
            jobs += [
                _net(common, config, name, "selffer", n, common["model"]) for n in args.selffer_n
            ]
        os.environ.setdefault("TRANSFERABILITY_SHARED_PROCESS", "0")
        rows += run_jobs(args.workers, _job, bases if args.selffer_n else [], jobs)
        summarise(pd.DataFrame(rows), args.out, args.random_n)


if __name__ == "__main__":
    main()
