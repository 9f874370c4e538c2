"""How many independent units does each claim need for a 95% interval narrower than its
margin? (issues 21 and 32; the arithmetic behind config/study.yaml, shown in docs/claims.md)

For each committed run given, and each claim: the spread (standard deviation) of its unit
values on the gain scale the verdicts use (or, with `--scale error`, on the error scale
against the error-scale margin), recovered from the claim's t interval
(sd = half-width · √k / t(k-1)), and the smallest number of units k whose half-width
t(k-1) · sd / √k is below the claim's margin. The two-group comparison (one dissimilar
partition against k random ones) has a prediction interval, t(k-1) · sd · √(1 + 1/k): it
never narrows below about 2 sd, so where the margin is smaller no k is enough (printed as
the cap, 200). The distance slopes depend on the spread of the distances as well and are
left out.

    .venv/bin/python benchmarks/units_needed.py --worst results/study results/study-replicate
    .venv/bin/python benchmarks/units_needed.py --worst --scale error \
        results/study results/study-replicate

Prints `RESULT units_needed_<claim> <k> units` (`units_needed_error_<claim>` on the error
scale) for the median spread over the runs given (`--worst`: the largest).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

MAX_UNITS = 200


def half_width(sd: float, k: int, prediction: bool = False) -> float:
    from transferability.analysis.stats import t_quantile

    spread = math.sqrt(1 + 1 / k) if prediction else 1 / math.sqrt(k)
    return t_quantile(0.975, k - 1) * sd * spread


def units_for(sd: float, margin: float, prediction: bool = False) -> int:
    """Smallest k whose half-width is below |margin|."""
    for k in range(3, MAX_UNITS):
        if half_width(sd, k, prediction) < abs(margin):
            return k
    return MAX_UNITS


TWO_GROUP = "dissimilar_drops_more"
SLOPES = ("transfer_falls_with_distance", "transfer_falls_with_distance_high_n")


def margin(name: str, scale: str) -> float | None:
    from transferability.analysis.claims import BY_NAME

    spec = BY_NAME[name].margin
    if scale == "gain":
        return spec.threshold
    on_error = spec.on_error_scale()
    return on_error.threshold if on_error else None


def spreads(summary: Path, scale: str = "gain") -> dict[str, tuple[float, int]]:
    """Per claim: (sd of unit values on `scale`, units in this run)."""
    import pandas as pd

    from transferability.analysis.claims import all_claims

    df = pd.read_csv(summary)
    out = {}
    for claim in all_claims(df):
        k = claim.n_units
        if scale == "gain":
            intervals = [(claim.gain_ci_low, claim.gain_ci_high)]
            intervals.append((claim.control_gain_ci_low, claim.control_gain_ci_high))
        else:
            intervals = [(claim.error_ci_low, claim.error_ci_high)]
        widths = [hi - lo for lo, hi in intervals if not math.isnan(lo)]
        if claim.name in SLOPES or k < 3 or not widths or margin(claim.name, scale) is None:
            continue
        if claim.name == TWO_GROUP:  # k random partitions and one dissimilar
            k -= 1
            out[claim.name] = (widths[0] / 2 / half_width(1.0, k, prediction=True), k)
            continue
        # With a control both measures must pass the margin: the wider one decides.
        out[claim.name] = (max(widths) / 2 / half_width(1.0, k), k)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="folders with a summary.csv")
    ap.add_argument("--worst", action="store_true", help="size for the largest spread seen")
    ap.add_argument("--quick", action="store_true", help="the committed study only")
    ap.add_argument("--scale", choices=("gain", "error"), default="gain")
    args = ap.parse_args()
    if args.quick or not args.runs:
        # The study: the default has its fine-tuned cells on one split, no interval to size.
        args.runs = [str(REPO / "results/study")]

    import numpy as np

    prefix = "units_needed_" if args.scale == "gain" else "units_needed_error_"
    seen: dict[str, list[float]] = {}
    for run in args.runs:
        for name, (sd, k) in spreads(Path(run) / "summary.csv", args.scale).items():
            m = margin(name, args.scale)
            need = units_for(sd, m, prediction=name == TWO_GROUP)
            print(
                f"{run}: {name}: sd {100 * sd:.2f}% ({args.scale} scale) over {k} units; "
                f"margin {100 * m:+.2f}% -> {need} units"
            )
            seen.setdefault(name, []).append(sd)
    for name, sds in seen.items():
        sd = max(sds) if args.worst else float(np.median(sds))
        need = units_for(sd, margin(name, args.scale), prediction=name == TWO_GROUP)
        print(f"RESULT {prefix}{name} {need} units")


if __name__ == "__main__":
    main()
