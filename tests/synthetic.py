"""Synthetic results tables for the claim and plot tests: a full grid of nets whose
top-1 follows a chosen function of (treatment, n, split kind), plus a little noise."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

BASE = 0.60
CHANCE = 0.2
TREATMENTS = ("selffer", "transfer", "selffer_ft", "transfer_ft", "random")
Effect = Callable[[str, int, str], float]


def paper_like(treatment: str, n: int, split_kind: str) -> float:
    """Mean top-1 with every effect of the paper present, a little exaggerated."""
    if treatment == "selffer":
        return BASE - (0.03 if 3 <= n <= 5 else 0.0)
    if treatment == "transfer":
        return BASE - (0.01 if split_kind == "random" else 0.03) * (n - 1)
    if treatment == "transfer_ft":
        return BASE + 0.02
    if treatment == "random":
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
    noise: float = 0.003,
) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for split in splits:
        kind = "dissimilar" if split == "dissimilar" else "random"
        for target in ("A", "B"):
            other = "B" if target == "A" else "A"
            for seed in seeds:
                cells = [("base", 0, target)]
                for t in treatments:
                    source = {"transfer": other, "transfer_ft": other, "random": "none"}
                    cells += [(t, n, source.get(t, target)) for n in ns]
                for treatment, n, source in cells:
                    top1 = effect(treatment, n, kind) + rng.normal(0, noise)
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
                            "chance": CHANCE,
                            "epochs": 10,
                            "train_seconds": 1.0,
                        }
                    )
    return pd.DataFrame(rows)
