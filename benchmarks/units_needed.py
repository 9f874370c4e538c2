"""How many independent units does each claim need for a 95% interval narrower than its
margin? (issue 21; the arithmetic behind config/study.yaml, shown in docs/claims.md)

For each committed run given, and each claim: the spread (standard deviation) of its unit
values on the gain scale the verdicts use, recovered from the claim's t interval
(sd = half-width · √k / t(k-1)), and the smallest number of units k whose half-width
t(k-1) · sd / √k is below the claim's margin. For the dissimilar-vs-random difference
(a Welch interval) the same is done per side with k units on each side.

    .venv/bin/python benchmarks/units_needed.py --worst results/study results/study-replicate

Prints `RESULT units_needed_<claim> <k> units` for the median spread over the runs given
(`--worst`: the largest).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

MAX_UNITS = 200


def half_width(sd: float, k: int) -> float:
    from transferability.analysis.stats import t_quantile

    return t_quantile(0.975, k - 1) * sd / math.sqrt(k)


def units_for(sd: float, margin: float, sides: int = 1) -> int:
    """Smallest k (per side) whose half-width is below |margin| (Welch: sides = 2)."""
    for k in range(3, MAX_UNITS):
        if half_width(sd * math.sqrt(sides), k) < abs(margin):
            return k
    return MAX_UNITS


def spreads(summary: Path) -> dict[str, tuple[float, int]]:
    """Per claim: (sd of unit values on the gain scale, units in this run)."""
    import pandas as pd

    from transferability.analysis.claims import BY_NAME, all_claims
    from transferability.analysis.layer_sets import HIGH_N_MIN
    from transferability.analysis.nets import pair_with_base
    from transferability.analysis.units import per_unit

    df = pd.read_csv(summary)
    out = {}
    for claim in all_claims(df):
        k, lo, hi = claim.n_units, claim.gain_ci_low, claim.gain_ci_high
        if claim.name == "dissimilar_drops_more" or k < 3 or math.isnan(lo):
            continue
        widths = [hi - lo]
        if claim.control and not math.isnan(claim.control_gain_ci_low):
            # Both measures must pass the margin: the wider one decides.
            widths.append(claim.control_gain_ci_high - claim.control_gain_ci_low)
        out[claim.name] = (max(widths) / 2 / half_width(1.0, k), k)
    # The dissimilar claim: the larger of its two sides' spreads.
    paired = pair_with_base(df)
    cells = paired[(paired["treatment"] == "transfer") & (paired["n"] >= HIGH_N_MIN)]
    if len(cells):
        rel = (cells["top1"] - cells["base_top1"]) / (cells["base_top1"] - cells["chance"])
        keys = BY_NAME["dissimilar_drops_more"].keys
        sides = [
            per_unit(rel[cells["split_kind"] == kind], cells[cells["split_kind"] == kind], keys)
            for kind in ("dissimilar", "random")
        ]
        if all(len(side) >= 3 for side in sides):
            out["dissimilar_drops_more"] = (
                max(float(side.std(ddof=1)) for side in sides),
                min(len(side) for side in sides),
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="folders with a summary.csv")
    ap.add_argument("--worst", action="store_true", help="size for the largest spread seen")
    ap.add_argument("--quick", action="store_true", help="the committed study only")
    args = ap.parse_args()
    if args.quick or not args.runs:
        # The study: the default has its fine-tuned cells on one split, no interval to size.
        args.runs = [str(REPO / "results/study")]

    import numpy as np

    from transferability.analysis.claims import BY_NAME

    seen: dict[str, list[float]] = {}
    for run in args.runs:
        for name, (sd, k) in spreads(Path(run) / "summary.csv").items():
            sides = 2 if name == "dissimilar_drops_more" else 1
            need = units_for(sd, BY_NAME[name].margin.threshold, sides)
            print(
                f"{run}: {name}: sd {100 * sd:.2f}% of the gain over {k} units; margin "
                f"{100 * BY_NAME[name].margin.threshold:+.2f}% -> {need} units"
                + (" per side" if sides == 2 else "")
            )
            seen.setdefault(name, []).append(sd)
    for name, sds in seen.items():
        sd = max(sds) if args.worst else float(np.median(sds))
        sides = 2 if name == "dissimilar_drops_more" else 1
        need = units_for(sd, BY_NAME[name].margin.threshold, sides)
        print(f"RESULT units_needed_{name} {need} units")


if __name__ == "__main__":
    main()
