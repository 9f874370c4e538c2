"""Figure 3 of Yosinski et al. (2014): (a) the dissimilar split, (b) frozen random layers,
(c) every net's top-1 relative to its own base; and (d) AnB's drop against the task
distance of every split (figure_distance.py)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ..treatments import BASE, RANDOM_INIT, REGISTRY, TRANSFER
from .figure_distance import panel_distance
from .nets import excluded_nets, pair_with_base, usable_nets
from .plotting import (
    EDGE_WIDTH,
    MARKER_EDGE_WIDTH,
    POINT_SIZE,
    STYLES,
    excluded_points,
    interval_bars,
    n_axis,
    no_data,
    points,
    save,
    suptitle,
)


def _target_palette(targets: list[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(targets, sns.color_palette("deep", max(len(targets), 1)), strict=False))


def _panel_dissimilar(ax: Axes, nets: pd.DataFrame, paired: pd.DataFrame) -> None:
    dis = nets[(nets["split_kind"] == "dissimilar") & nets["treatment"].isin([BASE, TRANSFER])]
    ax.set_title("(a) Dissimilar split: base and AnB")
    ax.set_ylabel("Top-1 accuracy")
    if dis.empty:
        no_data(ax)
        return
    targets = sorted(dis["target"].unique())
    palette = _target_palette(targets)
    dis = dis.assign(line="target " + dis["target"])
    # Base nets: white circles edged in the target's colour (seaborn's hue fills, so one call
    # per target); AnB nets: the target's colour.
    for target in targets:
        sns.scatterplot(
            data=dis[(dis["target"] == target) & (dis["treatment"] == BASE)],
            x="n",
            y="top1",
            s=POINT_SIZE,
            color="white",
            edgecolor=palette[target],
            linewidth=EDGE_WIDTH,
            zorder=3,
            ax=ax,
        )
    sns.scatterplot(
        data=dis[dis["treatment"] == TRANSFER],
        x="n",
        y="top1",
        hue="target",
        hue_order=targets,
        palette=palette,
        marker="D",
        s=POINT_SIZE,
        edgecolor="face",
        linewidth=EDGE_WIDTH,
        alpha=0.5,
        zorder=3,
        legend=False,
        ax=ax,
    )
    # The mean per n: the base nets' at n = 0, AnB's after.
    lines = [f"target {t}" for t in targets]
    sns.lineplot(
        data=dis,
        x="n",
        y="top1",
        hue="line",
        hue_order=lines,
        palette=dict(zip(lines, (palette[t] for t in targets), strict=True)),
        errorbar=None,
        linewidth=1.5,
        ax=ax,
    )
    for target in targets:
        interval_bars(ax, paired[paired["target"] == target], palette[target])
    ax.legend(fontsize=8, loc="lower left")


def _chance_lines(ax: Axes, nets: pd.DataFrame) -> None:
    for i, chance in enumerate(sorted(nets["chance"].dropna().round(6).unique())):
        ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance" if i == 0 else None)


RANDOM_TREATMENTS = tuple(t.name for t in REGISTRY if t.is_cell and t.prefix == RANDOM_INIT)


def _panel_random(ax: Axes, nets: pd.DataFrame, bad: pd.DataFrame, paired: pd.DataFrame) -> None:
    ax.set_title("(b) Random frozen layers (all splits)")
    excluded_points(ax, bad[bad["treatment"].isin(RANDOM_TREATMENTS)])
    ax.set_ylabel("Top-1 accuracy")
    rnd = nets[nets["treatment"].isin(RANDOM_TREATMENTS)]
    if rnd.empty:
        no_data(ax)
        return
    # Only the bases of the splits that have random nets, so the n=0 point is comparable.
    base = nets[(nets["treatment"] == BASE) & nets["split"].isin(rnd["split"].unique())]
    points(ax, base, [BASE])
    for treatment in RANDOM_TREATMENTS:
        arm = rnd[rnd["treatment"] == treatment]
        if arm.empty:
            continue
        style = STYLES[treatment]
        points(ax, arm, [treatment], legend=False, alpha=0.6)
        sns.lineplot(
            data=pd.concat([base, arm]),
            x="n",
            y="top1",
            color=style.color,
            errorbar=None,
            linewidth=1.5,
            label=f"{style.label} (mean)",
            ax=ax,
        )
        interval_bars(ax, paired[paired["treatment"] == treatment], style.color)
    _chance_lines(ax, pd.concat([base, rnd]))
    ax.legend(fontsize=8, loc="upper right")


def _relative_series(nets: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    paired = nets.assign(rel=(nets["top1"] - nets["base_top1"]) / nets["base_top1"])
    anb = paired["treatment"] == TRANSFER
    return [
        (
            "AnB, random splits",
            paired[anb & (paired["split_kind"] == "random")],
            STYLES[TRANSFER].color,
        ),
        (
            "AnB, dissimilar split",
            paired[anb & (paired["split_kind"] == "dissimilar")],
            "#6a3d9a",
        ),
        *(
            (
                f"{STYLES[t].label} frozen",
                paired[paired["treatment"] == t],
                STYLES[t].color,
            )
            for t in RANDOM_TREATMENTS
        ),
    ]


def _panel_relative(ax: Axes, df: pd.DataFrame) -> None:
    ax.set_title("(c) Top-1 relative to each net's own base")
    ax.set_ylabel("(top-1 - base top-1) / base top-1")
    series = [(label, sub, color) for label, sub, color in _relative_series(pair_with_base(df))]
    series = [(label, sub, color) for label, sub, color in series if not sub.empty]
    if series:
        labels = [label for label, _, _ in series]
        palette = {label: color for label, _, color in series}
        nets = pd.concat([sub.assign(series=label) for label, sub, _ in series])
        sns.scatterplot(
            data=nets,
            x="n",
            y="rel",
            hue="series",
            hue_order=labels,
            palette=palette,
            s=12,
            edgecolor="face",
            linewidth=EDGE_WIDTH,
            alpha=0.35,
            zorder=2,
            legend=False,
            ax=ax,
        )
        # Every net is its own reference, so the lines start from 0 at n=0.
        origins = pd.DataFrame({"series": labels, "n": 0, "rel": 0.0})
        sns.lineplot(
            data=pd.concat([origins, nets[["series", "n", "rel"]]]),
            x="n",
            y="rel",
            hue="series",
            hue_order=labels,
            palette=palette,
            errorbar=None,
            marker="o",
            markersize=4,
            markeredgecolor="auto",
            markeredgewidth=MARKER_EDGE_WIDTH,
            linewidth=1.5,
            ax=ax,
        )
        for _, sub, color in series:
            interval_bars(ax, sub, color, y="rel")
    ax.axhline(0, color="black", lw=0.8)
    if not series:
        no_data(ax)
        return
    ax.legend(fontsize=8, loc="lower left")


def figure3(df: pd.DataFrame, path: str | Path, dpi: int = 150) -> Path:
    """Paper Figure 3: (a) dissimilar split, (b) random frozen layers, (c) top-1 vs base;
    and (d) the transfer drop against task distance, the paper's claim as a dose-response."""
    nets = usable_nets(df)
    with sns.axes_style("whitegrid"):
        fig, grid = plt.subplots(2, 2, figsize=(13, 10), layout="constrained")
        axes = grid.flatten()
        paired = pair_with_base(df)
        anb = (paired["split_kind"] == "dissimilar") & (paired["treatment"] == TRANSFER)
        _panel_dissimilar(axes[0], nets, paired[anb])
        _panel_random(axes[1], nets, excluded_nets(df), paired)
        _panel_relative(axes[2], df)
        for ax in axes[:3]:
            n_axis(ax)
        panel_distance(axes[3], df)
        suptitle(fig, df, "Figure 3")
    return save(fig, path, dpi)
