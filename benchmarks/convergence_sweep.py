"""How long must a base net train before a second schedule stops helping? (issue 21)

The paper's signature of converged base nets is BnB+ ≈ base: a selffer fine-tuned for a
whole extra schedule from its own base's layers gains nothing. For each recipe given, this
trains base nets (both halves of the given random splits and seeds) and their BnB+ cells at
n = 6, 7 under that recipe (cells train with the same recipe, as in the paper), and prints
per recipe: mean base top-1, BnB+ - base at n = 6, 7 (mean over base nets, 95% t interval
over base nets, and the range), and the CPU minutes one base net takes.

    .venv/bin/python benchmarks/convergence_sweep.py --recipes '{}' '{"epochs": 32}'

Each recipe is a JSON object of overrides of the config's training.base (config/config.yaml,
with any --configfile merged over it as snakemake merges them: `--configfile config/study.yaml
config/study-replicate.yaml` sweeps on the replicate's training subset and splits, from the
study's recipe). Uses that run's data cache and split files (made first where missing). --quick:
one recipe of one epoch on 2 base nets, in a scratch folder: checks the script runs.
Prints `RESULT convergence_<label>_<what> <value> <unit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from recipe_sweep import (
    _job,
    _net,
    base_nets,
    inputs,
    overridden,
    run_config,
    run_jobs,
    sweep_options,
)

CELL_N = (6, 7)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _label(recipe: dict) -> str:
    return "_".join(f"{k}{v}" for k, v in sorted(recipe.items())) or "default"


def summarise(rows: list[dict], label: str, wall: float) -> dict:
    """One line of the sweep's table from the last-epoch rows of one recipe's nets."""
    import pandas as pd

    last = pd.DataFrame(rows).sort_values("epoch").groupby("name").last().reset_index()
    bases = last[last.treatment == "base"].set_index(["split", "target", "seed"])
    cells = last[last.treatment == "selffer_ft"]
    gain = cells.set_index(["split", "target", "seed"])["top1"] - bases["top1"]
    per_base = gain.groupby(level=[0, 1, 2]).mean().to_numpy()
    from transferability.analysis.stats import t_interval

    low, high = t_interval(per_base)
    return {
        "recipe": label,
        "epochs": int(last["epochs_total"].iloc[0]),
        "base_top1": float(bases["top1"].mean()),
        "gain_n6": float(gain[cells.set_index(["split", "target", "seed"])["n"] == 6].mean()),
        "gain_n7": float(gain[cells.set_index(["split", "target", "seed"])["n"] == 7].mean()),
        "gain": float(per_base.mean()),
        "gain_low": low,
        "gain_high": high,
        "gain_min": float(per_base.min()),
        "gain_max": float(per_base.max()),
        "base_minutes": float(bases["train_seconds"].mean()) / 60,
        "wall_minutes": wall / 60,
        "bases": len(bases),
    }


def _job_with_time(job: dict) -> list[dict]:
    rows = _job(job)
    record = json.loads((Path(job["tmp"]) / f"{job['name']}.json").read_text())
    extra = {
        "name": job["name"],
        "train_seconds": record["train_seconds"],
        "epochs_total": job["settings"]["recipe"]["epochs"],
    }
    return [row | extra for row in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sweep_options(
        ap, ["random0", "random1"], "convergence_sweep.csv",
        quick="1 epoch, 2 base nets: checks it runs",
    )  # fmt: skip
    ap.set_defaults(seeds=[0, 1])
    args = ap.parse_args()

    import pandas as pd

    default = run_config(args.configfile)
    tmp = tempfile.mkdtemp(prefix="convergence-sweep-")
    if args.quick:
        args.recipes, args.splits, args.seeds = ['{"epochs": 1}'], ["random0"], [0]
        args.results, args.out = f"{tmp}/results", f"{tmp}/convergence_sweep.csv"
    cache = inputs(args, default)
    os.environ.setdefault("TRANSFERABILITY_SHARED_PROCESS", "0")
    print(f"CPU: {_cpu()}; {args.workers} worker processes, 1 torch thread each", flush=True)
    table = []
    for text in args.recipes:
        recipe = json.loads(text)
        label = _label(recipe)
        config = overridden(default, recipe)
        bases, cells = [], []
        for name, common, base in base_nets(args, config, text, label, tmp, cache, ("A", "B")):
            bases.append(base)
            cells += [_net(common, config, name, "selffer_ft", n, common["model"]) for n in CELL_N]
        started = time.perf_counter()
        rows = run_jobs(args.workers, _job_with_time, bases, cells)
        line = summarise(rows, label, time.perf_counter() - started)
        table.append(line)
        print(
            f"{label}: base top-1 {line['base_top1']:.4f}; BnB+ - base at n=6,7 "
            f"{100 * line['gain']:+.2f} points [{100 * line['gain_low']:+.2f}, "
            f"{100 * line['gain_high']:+.2f}] over {line['bases']} base nets (range "
            f"{100 * line['gain_min']:+.2f} .. {100 * line['gain_max']:+.2f}); "
            f"{line['base_minutes']:.2f} CPU-min per base net",
            flush=True,
        )
        print(f"RESULT convergence_{label}_gain_n67 {100 * line['gain']:.2f} points")
        print(f"RESULT convergence_{label}_base_minutes {line['base_minutes']:.3f} minutes")
        pd.DataFrame(table).to_csv(args.out, index=False)
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
