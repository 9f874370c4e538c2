"""Intervals for the claims: Student-t over independent units, Welch for two sets of units.

No scipy in the analysis environment, so the t quantile is computed here (numerically, to
well below the precision any verdict needs) rather than adding a dependency for one number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd

CI_LEVEL = 0.95
# Two units give an interval from one degree of freedom (t = 12.7): wide enough to be
# useless and too dependent on one unit to be trusted; three is the least we interpret.
MIN_UNITS = 3
# The percentile bootstrap is kept for many units and for the figures' bars over nets; with
# 3-6 units it has 10-462 distinct resamples and covers far less than 95%.
N_BOOT = 2000
BOOT_SEED = 2014  # fixed so the same table always gives the same intervals and text
NAN_CI = (float("nan"), float("nan"))


def _t_pdf(x: np.ndarray, df: float) -> np.ndarray:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))


def _t_cdf_above_zero(x: float, df: float) -> float:
    """P(0 < T < x) by Simpson's rule; the density is smooth, so 4000 panels are plenty."""
    grid = np.linspace(0.0, x, 4001)
    y = _t_pdf(grid, df)
    h = x / 4000
    return float(h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


@cache
def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t with (possibly fractional, as Welch gives) df, for p > 0.5."""
    if not 0.5 < p < 1 or not df > 0:
        raise ValueError(f"t_quantile needs 0.5 < p < 1 and df > 0, got p={p}, df={df}")
    target, low, high = p - 0.5, 0.0, 1.0
    while _t_cdf_above_zero(high, df) < target:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _t_cdf_above_zero(mid, df) < target else (low, mid)
    return (low + high) / 2


def _values(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """mean ± t_{k-1} · sd / √k over k unit values; no interval below MIN_UNITS."""
    x = _values(values)
    k = len(x)
    if k < MIN_UNITS:
        return NAN_CI
    half = t_quantile((1 + CI_LEVEL) / 2, k - 1) * x.std(ddof=1) / math.sqrt(k)
    return float(x.mean() - half), float(x.mean() + half)


def _percentile_ci(samples: np.ndarray) -> tuple[float, float]:
    tail = (1 - CI_LEVEL) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(
    values: Sequence[float], groups: Sequence[str] | None = None
) -> tuple[float, float]:
    """95% percentile interval of the mean, resampling values (or whole groups, where
    `groups` labels them) with replacement; no interval below MIN_UNITS.

    Not the claims' default (see t_interval); the figures draw it over nets at one n."""
    x = np.asarray(values, dtype=float)
    if groups is None:
        sums, counts = x, np.ones_like(x)
    else:
        codes, labels = pd.factorize(pd.Series(list(groups), dtype="object"), sort=True)
        sums = np.bincount(codes, weights=x, minlength=len(labels))
        counts = np.bincount(codes, minlength=len(labels)).astype(float)
    if len(sums) < MIN_UNITS:
        return NAN_CI
    rng = np.random.default_rng(BOOT_SEED)
    idx = rng.integers(0, len(sums), size=(N_BOOT, len(sums)))
    return _percentile_ci(sums[idx].sum(axis=1) / counts[idx].sum(axis=1))


def beyond_interval(x: float, y: Sequence[float]) -> tuple[float, float]:
    """Interval of x - mean(y) where x is one more draw of what y samples (a prediction
    interval: the one dissimilar partition against the spread of random ones, with the
    partition as the unit); no interval below MIN_UNITS values of y."""
    b = _values(y)
    if len(b) < MIN_UNITS or math.isnan(x):
        return NAN_CI
    half = t_quantile((1 + CI_LEVEL) / 2, len(b) - 1) * b.std(ddof=1) * math.sqrt(1 + 1 / len(b))
    diff = float(x - b.mean())
    return diff - half, diff + half


def slope_interval(
    y: Sequence[float], x: Sequence[float], covariate: Sequence[float]
) -> tuple[float, tuple[float, float], float]:
    """Least squares y ~ 1 + x + covariate: the slope of x, its 95% t interval (k - 3
    degrees of freedom) and the covariate's coefficient. NaNs where k - 3 < 1 or the design
    is singular (e.g. a covariate that does not vary)."""
    ys, xs, cs = (np.asarray(v, dtype=float) for v in (y, x, covariate))
    keep = ~(np.isnan(ys) | np.isnan(xs) | np.isnan(cs))
    ys, xs, cs = ys[keep], xs[keep], cs[keep]
    design = np.column_stack([np.ones_like(xs), xs, cs])
    k, p = design.shape
    if k - p < 1 or np.linalg.matrix_rank(design) < p:
        return float("nan"), NAN_CI, float("nan")
    beta, *_ = np.linalg.lstsq(design, ys, rcond=None)
    residual = ys - design @ beta
    variance = float(residual @ residual) / (k - p)
    se = math.sqrt(variance * np.linalg.inv(design.T @ design)[1, 1])
    half = t_quantile((1 + CI_LEVEL) / 2, k - p) * se
    return float(beta[1]), (float(beta[1] - half), float(beta[1] + half)), float(beta[2])
