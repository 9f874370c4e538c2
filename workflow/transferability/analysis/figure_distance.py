"""The transfer drop against the task distance (Figure 3's panel d): per split, the relative
AnB drop at n = 7 (drops.py) against the distance between its halves (distance.py), with
the least-squares line. What the distance claims judge (the slope at equal target base
top-1, and at n = 5..7 too) is in claims.md; the line here is the plain fit, to show the
shape."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .drops import by_split, relative_drops
from .plotting import POINT_SIZE, no_data

KINDS = {"random": ("0.35", "o", "random split"), "dissimilar": ("#99000d", "D", "dissimilar")}


def _panel(ax: Axes, df: pd.DataFrame, ns: tuple[int, ...], title: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("Task distance between the halves (a reference net's fc7 class means)")
    ax.set_ylabel("AnB - base, share of the base's gain over chance")
    cells = relative_drops(df, ns)
    if cells.empty or "task_distance" not in cells or cells["task_distance"].isna().all():
        no_data(ax, "no AnB nets, or no task distance in the table")
        return
    directions = by_split(cells, ("split", "target"))
    splits = by_split(cells)
    for kind, (color, marker, label) in KINDS.items():
        mine = splits[splits["split_kind"] == kind]
        theirs = directions[directions["split_kind"] == kind]
        ax.scatter(theirs["task_distance"], theirs["gain"], s=POINT_SIZE / 2, color=color,
                   marker=marker, alpha=0.35, linewidths=0)  # fmt: skip
        ax.scatter(mine["task_distance"], mine["gain"], s=POINT_SIZE * 2, color=color,
                   marker=marker, label=f"{label} (mean of both directions)")  # fmt: skip
    x, y = splits["task_distance"].to_numpy(), splits["gain"].to_numpy()
    if len(splits) >= 3 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.linspace(x.min(), x.max(), 2)
        ax.plot(grid, intercept + slope * grid, color="black", lw=1,
                label=f"least squares: {100 * slope / 10:+.1f}% per 0.1")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    ax.legend(fontsize=8, loc="lower left")


def panel_distance(ax: Axes, df: pd.DataFrame) -> None:
    """Figure 3's panel (d): AnB's relative drop at n = 7 per split against its distance."""
    _panel(ax, df, (7,), "(d) AnB at n = 7 against task distance, per split")
