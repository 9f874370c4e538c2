"""What a claim's measure returns, and how its numbers are written in claims.md and README.

Effects are fractions of top-1 (0.016 is 1.6 points): `points` writes them in points,
`signed_pct` and `pct` as shares of the base's gain over chance, the scale verdicts use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from .stats import MIN_UNITS, t_interval

NAN = float("nan")
NAN_CI = (NAN, NAN)
Interval = tuple[float, float]


@dataclass(frozen=True)
class Measured:
    """One value per unit of a measure, in points of top-1, on the gain scale (over the
    base's top-1 above chance: what verdicts use) and on the error scale (over the base's
    error, 1 - top-1: shown beside it; None where it means nothing, as for a share kept)."""

    points: pd.Series
    gain: pd.Series
    error: pd.Series | None = None

    @classmethod
    def empty(cls) -> Measured:
        return cls(pd.Series(dtype=float), pd.Series(dtype=float), pd.Series(dtype=float))

    def __len__(self) -> int:
        return len(self.gain)

    def cis(self) -> tuple[Interval, Interval]:
        return t_interval(self.points.to_numpy()), t_interval(self.gain.to_numpy())

    def error_ci(self) -> Interval:
        return NAN_CI if self.error is None else t_interval(self.error.to_numpy())

    def error_mean(self) -> float:
        return NAN if self.error is None or not len(self.error) else float(self.error.mean())


@dataclass(frozen=True)
class Measurement:
    """A measure's result on one table. The claim's detail reads `how` (from the registry,
    with `ns`), `aside`, the unit, then `result`; the verdict and what it needs follow from
    the registry entry, so no measure writes them."""

    measured: Measured
    n_nets: int
    result: str
    ns: tuple[int, ...] = ()
    aside: str = ""
    # Where a measure's interval or effect is not the t interval and mean of `measured`
    # (the dissimilar claim: a Welch interval of a difference of two sets of units).
    cis: tuple[Interval, Interval] | None = None
    effects: tuple[float, float] | None = None
    # Its error-scale effect and interval, where `cis` and `effects` are given too.
    error: tuple[float, Interval] | None = None
    control: Measured | None = None
    no_data: str = ""  # why nothing could be measured ("" if something was)

    @classmethod
    def nothing(cls, why: str) -> Measurement:
        return cls(Measured.empty(), 0, "", no_data=why)


def pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}%"


def signed_pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:+.1f}%"


def points(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:+.2f}"


def interval_text(ci: Interval) -> str:
    """'[+1.2%, +3.4%]' on the gain or error scale; 'n/a' without an interval."""
    return "n/a" if pd.isna(ci[0]) else f"[{signed_pct(ci[0])}, {signed_pct(ci[1])}]"


def ns_text(ns: Iterable[int]) -> str:
    return ",".join(str(n) for n in sorted(set(ns)))


def ci_text(ci: Interval, k: int, fmt=signed_pct) -> str:
    if any(pd.isna(v) for v in ci):
        return f"no interval ({k} unit(s); at least {MIN_UNITS} needed)"
    return f"95% CI [{fmt(ci[0])}, {fmt(ci[1])}] (t over {k} units)"


def both_scales(measured: Measured, cis=None) -> str:
    """'+0.31 points, 95% CI [...]; +0.45% of the base's gain over chance, 95% CI [...]'."""
    ci, gain_ci = cis or measured.cis()
    k = len(measured)
    return (
        f"{points(measured.points.mean())} points, {ci_text(ci, k, points)}; "
        f"{signed_pct(measured.gain.mean())} of the base's gain over chance, "
        f"{ci_text(gain_ci, k)}"
    )


def units_and_nets(measured: Measured, n_nets: int) -> str:
    """'; 6 units, 84 nets: <both_scales>': the result of a one-sample measure."""
    return f"; {len(measured)} units, {n_nets} nets: {both_scales(measured)}"
