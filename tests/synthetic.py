"""Synthetic results tables for the claim and plot tests: a grid of nets whose top-1 follows a
chosen function of (treatment, n, split kind), plus noise with the structure of real runs.

Noise comes at two levels. Each base net has its own training noise (`base_noise`): it is in
that base's top-1, and so, with a minus sign, in every difference to it; a cell built on a base
inherits `source_share` of the noise of the base it copied from. Each net adds its own `noise`.
So the cells of one unit share noise and resampling nets instead of units gives intervals
that are too narrow, as in real runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from transferability.treatments import CELL_TREATMENTS, is_random, source_half

BASE = 0.60
CHANCE = 0.2
TREATMENTS = CELL_TREATMENTS  # every cell treatment of the registry (treatments.py)
Effect = Callable[[str, int, str], float]


def paper_like(treatment: str, n: int, split_kind: str) -> float:
    """Mean top-1 with every effect of the paper present, a little exaggerated."""
    if treatment == "selffer":
        return BASE - (0.03 if 3 <= n <= 5 else 0.0)
    if treatment == "transfer":
        return BASE - (0.01 if split_kind == "random" else 0.03) * (n - 1)
    if treatment == "transfer_ft":
        return BASE + 0.02
    if is_random(treatment):
        return {1: BASE - 0.02, 2: 0.4}.get(n, CHANCE + 0.02)
    return BASE  # base, selffer_ft


def override(**by_treatment: Callable[[int, str], float]) -> Effect:
    """paper_like with some treatments replaced, e.g. to reverse one effect."""

    def effect(treatment: str, n: int, split_kind: str) -> float:
        if treatment in by_treatment:
            return by_treatment[treatment](n, split_kind)
        return paper_like(treatment, n, split_kind)

    return effect


def make_table(
    effect: Effect = paper_like,
    splits: Iterable[str] = ("random0", "random1", "dissimilar"),
    ns: Iterable[int] = range(1, 8),
    treatments: Iterable[str] = TREATMENTS,
    seeds: Iterable[int] = range(3),
    noise: float = 0.002,
    base_noise: float = 0.002,
    source_share: float = 0.5,
    rng_seed: int = 0,
) -> pd.DataFrame:
    """One base net per (split, half, seed) and one cell per (split, target, treatment, n,
    seed); `splits` and `seeds` set how many units a claim has. Each split's task distance:
    0.01 x i for random<i>, 0.2 for the dissimilar split."""
    rng = np.random.default_rng(rng_seed)
    splits, seeds, ns, treatments = list(splits), list(seeds), list(ns), list(treatments)
    base_offset = {
        (split, half, seed): rng.normal(0, base_noise) if base_noise else 0.0
        for split in splits
        for half in ("A", "B")
        for seed in seeds
    }
    rows = []
    for split in splits:
        kind = "dissimilar" if split == "dissimilar" else "random"
        for target in ("A", "B"):
            for seed in seeds:
                cells = [("base", 0, target)]
                cells += [(t, n, source_half(t, target)) for t in treatments for n in ns]
                for treatment, n, source in cells:
                    top1 = effect(treatment, n, kind) + (rng.normal(0, noise) if noise else 0.0)
                    if treatment == "base":
                        top1 += base_offset[(split, target, seed)]
                    elif source in ("A", "B"):
                        top1 += source_share * base_offset[(split, source, seed)]
                    rows.append(
                        {
                            "split": split,
                            "split_kind": kind,
                            "target": target,
                            "source": source,
                            "treatment": treatment,
                            "n": n,
                            "seed": seed,
                            "top1": float(top1),
                            "diverged": False,
                            "status": "trained",
                            "status_reason": "",
                            "chance": CHANCE,
                            "epochs": 10,
                            "train_seconds": 1.0,
                        }
                    )
    table = pd.DataFrame(rows)
    distances = {
        s: 0.2 if s == "dissimilar" else 0.01 * int(s.removeprefix("random")) for s in splits
    }
    return table.assign(task_distance=table["split"].map(distances))


def set_status(df: pd.DataFrame, mask, status: str, reason: str, top1: float = CHANCE):
    """A copy where the nets under `mask` are `status` (scoring `top1`), with `reason`."""
    out = df.copy()
    out.loc[mask, ["status", "status_reason", "top1"]] = [status, reason, top1]
    out.loc[mask, "diverged"] = status == "diverged"
    return out
