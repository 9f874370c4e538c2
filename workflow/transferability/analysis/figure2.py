"""Figure 2 of Yosinski et al. (2014): every net of the random splits (top) and the mean per
treatment and n with the effects the paper reads off it annotated (bottom).

Mean lines are `sns.lineplot` with `errorbar=None`: the bars are plotting.interval_bars, the
interval over independent units, not seaborn's over nets.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ..treatments import BASE, SELFFER, SELFFER_FT, TRANSFER, TRANSFER_FT
from .layer_sets import HIGH_N_MIN, MID_N
from .nets import excluded_nets, pair_with_base, usable_nets
from .plotting import (
    EDGE_WIDTH,
    MARKER_EDGE_WIDTH,
    STYLES,
    excluded_points,
    interval_bars,
    n_axis,
    no_data,
    points,
    save,
    styled,
    suptitle,
)

FIGURE2_TREATMENTS = (BASE, SELFFER, SELFFER_FT, TRANSFER, TRANSFER_FT)


def _means_by_n(nets: pd.DataFrame, y: str = "top1") -> pd.Series:
    return nets.groupby("n")[y].mean().sort_index()


def _panel_nets(ax: Axes, nets: pd.DataFrame, bad: pd.DataFrame) -> None:
    excluded_points(ax, bad)
    points(ax, nets, FIGURE2_TREATMENTS)
    ax.set_xlabel("")  # the shared n axis is labelled under the bottom panel
    if nets.empty:
        no_data(ax)
    else:
        ax.legend(loc="lower left", fontsize=8, ncol=5)
    ax.set_ylabel("Top-1 accuracy (higher is better)")
    ax.set_title("Every net (random splits), shifted sideways by treatment")


def _annotate(
    ax: Axes,
    text: str,
    xy: tuple[float, float],
    offset: tuple[float, float],
    color: str,
) -> None:
    ax.annotate(
        text,
        xy=xy,
        xytext=offset,
        textcoords="offset points",
        ha="center",
        fontsize=8,
        color=color,
        arrowprops={"arrowstyle": "->", "color": color, "lw": 0.8},
    )


def _annotate_dip(ax: Axes, bnb: pd.Series) -> None:
    mid, ends = bnb[bnb.index.isin(MID_N)], bnb[~bnb.index.isin(MID_N)]
    if mid.empty or ends.empty:
        return
    dip = mid.mean() - ends.mean()
    text = f"{'BnB dip' if dip < 0 else 'no BnB dip'} {100 * dip:+.1f}%"
    _annotate(ax, text, (int(mid.idxmin()), mid.min()), (0, -28), STYLES[SELFFER].color)


def _annotate_drop(ax: Axes, anb: pd.Series, base: float) -> None:
    if len(anb) < 2:
        return
    drop = anb.iloc[-1] - base
    n_top = int(anb.index[-1])
    label = "AnB drop" if drop < 0 else "no AnB drop"
    text = f"{label} at n={n_top}: {100 * drop:+.1f}%"
    # Left of the last point: below it would sit on the n tick labels.
    _annotate(ax, text, (n_top, anb.iloc[-1]), (-75, 0), STYLES[TRANSFER].color)


def _annotate_boost(ax: Axes, anb_ft: pd.Series, base: float) -> None:
    high = anb_ft[anb_ft.index >= HIGH_N_MIN]
    at = high if not high.empty else anb_ft
    boost = at.mean() - base
    label = "AnB+ boost" if boost > 0 else "no AnB+ boost"
    lo, hi = int(at.index[0]), int(at.index[-1])
    span = f"n={lo}" if lo == hi else f"n={lo}..{hi}"
    text = f"{label} ({span}): {100 * boost:+.1f}%"
    n_at = int(at.index[len(at) // 2])
    _annotate(ax, text, (n_at, at[n_at]), (0, 22), STYLES[TRANSFER_FT].color)


def _annotations(ax: Axes, means: dict[str, pd.Series], base: float) -> None:
    """Label the three effects the paper reads off this panel, where the data allows."""
    if SELFFER in means:
        _annotate_dip(ax, means[SELFFER])
    if np.isnan(base):
        return
    if TRANSFER in means:
        _annotate_drop(ax, means[TRANSFER], base)
    if TRANSFER_FT in means:
        _annotate_boost(ax, means[TRANSFER_FT], base)


def _mean_lines(ax: Axes, nets: pd.DataFrame, treatments: list[str]) -> None:
    """A line through the mean of each treatment per n, at n + offset, colour and marker from
    the registry; no seaborn interval (see `interval_bars`)."""
    if not treatments:
        return
    labels = [STYLES[t].label for t in treatments]
    sns.lineplot(
        data=styled(nets),
        x="x",
        y="top1",
        hue="label",
        hue_order=labels,
        palette={STYLES[t].label: STYLES[t].color for t in treatments},
        style="label",
        style_order=labels,
        markers={STYLES[t].label: STYLES[t].marker for t in treatments},
        dashes=False,
        errorbar=None,
        markersize=5,
        markeredgecolor="auto",  # the line's colour, as matplotlib draws it
        markeredgewidth=MARKER_EDGE_WIDTH,
        linewidth=1.5,
        ax=ax,
    )


def _panel_means(ax: Axes, nets: pd.DataFrame, paired: pd.DataFrame) -> None:
    if nets.empty:
        no_data(ax)
        return
    base_nets = nets[nets["treatment"] == BASE]
    base = float(base_nets["top1"].mean()) if not base_nets.empty else float("nan")
    if not np.isnan(base):
        ax.axhline(base, color="black", ls="--", lw=1, label="base (mean)")
        mean_base = pd.DataFrame({"treatment": [BASE], "n": [0], "top1": [base]})
        points(ax, mean_base, [BASE], legend=False, linewidth=EDGE_WIDTH)
    cells = [t for t in FIGURE2_TREATMENTS[1:] if t in set(nets["treatment"])]
    means = {t: _means_by_n(nets[nets["treatment"] == t]) for t in cells}
    _mean_lines(ax, nets[nets["treatment"].isin(cells)], cells)
    for treatment in cells:
        style = STYLES[treatment]
        interval_bars(ax, paired[paired["treatment"] == treatment], style.color, dx=style.offset)
    _annotations(ax, means, base)
    ax.legend(loc="lower left", fontsize=8, ncol=5)
    ax.set_ylabel("Mean top-1 accuracy")
    ax.set_title(
        "Means per treatment and n (bars: 95% t interval of the difference to the base,\n"
        "over 3+ independent units, drawn around the mean)"
    )


def figure2(df: pd.DataFrame, path: str | Path, dpi: int = 150) -> Path:
    """Paper Figure 2: every net (top) and the per-n means (bottom), random splits only."""
    nets = usable_nets(df)
    nets = nets[nets["split_kind"] == "random"]
    bad = excluded_nets(df)
    bad = bad[(bad["split_kind"] == "random") & bad["treatment"].isin(FIGURE2_TREATMENTS)]
    with sns.axes_style("whitegrid"):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 9), sharex=True, layout="constrained")
        _panel_nets(top, nets, bad)
        paired = pair_with_base(df)
        _panel_means(bottom, nets, paired[paired["split_kind"] == "random"])
        n_axis(bottom)
        top.tick_params(labelbottom=True)
        suptitle(fig, df, "Figure 2: random splits")
    return save(fig, path, dpi)
