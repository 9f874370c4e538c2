"""What Figures 2 and 3 and the training curves share: the treatments' styles (from the
registry), the n axis, the title's count of nets left out, points, interval bars and saving.

Diverged nets are left out of every point and mean and counted in the title, so a chance-level
point on a figure is always a real result, never a crashed run.

Points are `sns.scatterplot`, their hue, marker and colours mapped from the treatment registry.
The interval bars are not seaborn's: its `errorbar=` resamples the rows (nets), while a bar here
is the t interval over independent units of each cell's difference to its own base
(`interval_bars`), so they are drawn with matplotlib, as are the reference lines (`axhline`)
and the annotations, which seaborn has no function for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import groupby
from pathlib import Path

import matplotlib

# Figures are drawn on cluster nodes and in tests without a display. Every figure module
# imports this one, so the backend is set before anything is drawn.
matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..atomic import write_atomic
from ..layers import NUM_LAYERS
from ..treatments import REGISTRY
from .nets import excluded_nets
from .stats import t_interval
from .units import unit_keys


@dataclass(frozen=True)
class TreatmentStyle:
    label: str
    color: str  # edge colour, and line colour in the mean panels
    facecolor: str
    marker: str
    offset: float  # sideways shift on the n axis so treatments at one n do not overlap


# Label and style of each treatment, from the registry (treatments.py).
STYLES: dict[str, TreatmentStyle] = {
    t.name: TreatmentStyle(t.label, **asdict(t.style)) for t in REGISTRY
}
X_LABEL = "Layer n at which network is chopped and retrained"
N_TICKS = range(NUM_LAYERS)
POINT_SIZE = 28
# Edge width of the figures' points and line markers: matplotlib's defaults, not seaborn's.
EDGE_WIDTH = matplotlib.rcParams["patch.linewidth"]
MARKER_EDGE_WIDTH = matplotlib.rcParams["lines.markeredgewidth"]


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write atomically, so a reader never sees a half-written figure."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    try:
        # No version stamp in the file: the same table gives the same bytes.
        metadata = {"Software": None} if fmt == "png" else None
        return write_atomic(
            path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
        )
    finally:
        plt.close(fig)


def no_data(ax: Axes, what: str = "no data") -> None:
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color="0.4")


def n_axis(ax: Axes) -> None:
    ax.set_xticks(list(N_TICKS))
    ax.set_xlim(-0.6, NUM_LAYERS - 0.4)
    ax.set_xlabel(X_LABEL)


def suptitle(fig: Figure, df: pd.DataFrame, title: str) -> None:
    """Title with the count of nets not counted: a reader must know what the means leave out."""
    bad = excluded_nets(df)
    if bad.empty:
        note = "every net counts"
    else:
        counts = bad["status"].value_counts().sort_index()
        kinds = " and ".join(f"{count} {status}" for status, count in counts.items())
        note = f"{kinds} net(s) drawn as {EXCLUDED_MARKER_NAME}, not counted"
    fig.suptitle(f"{title} ({note})", fontsize=11)


# Nets whose status is not `trained`: drawn where they scored, never averaged in.
EXCLUDED_MARKER, EXCLUDED_MARKER_NAME, EXCLUDED_COLOR = "x", "×", "#e31a1c"


def excluded_points(ax: Axes, bad: pd.DataFrame) -> None:
    if bad.empty:
        return
    sns.scatterplot(
        data=bad,
        x="n",
        y="top1",
        s=POINT_SIZE * 1.5,
        marker=EXCLUDED_MARKER,
        color=EXCLUDED_COLOR,
        linewidth=1.2,
        zorder=4,
        label="diverged or failed (not counted)",
        ax=ax,
    )


def styled(nets: pd.DataFrame) -> pd.DataFrame:
    """`nets` with the columns the registry's styles map from: `label` (hue and marker) and
    `x`, n shifted sideways by the treatment's offset."""
    return nets.assign(
        label=nets["treatment"].map(lambda t: STYLES[t].label),
        x=nets["n"] + nets["treatment"].map(lambda t: STYLES[t].offset).astype(float),
    )


def _edge(treatment: str) -> str:
    """A treatment's point edge: "face" when it is its fill, else its own colour (the base's
    white circles have black edges)."""
    style = STYLES[treatment]
    return "face" if style.color == style.facecolor else style.color


def points(
    ax: Axes,
    nets: pd.DataFrame,
    treatments: list[str] | tuple[str, ...],
    y: str = "top1",
    legend: bool = True,
    linewidth: float = 0.8,
    **kw,
) -> None:
    """Every net of `treatments` a point at n + offset, fill and marker from the registry; the
    legend lists them in registry order. One scatterplot per run of treatments sharing an edge
    rule, since seaborn maps hue onto the fill only."""
    nets = styled(nets[nets["treatment"].isin(treatments)])
    present = [t for t in treatments if t in set(nets["treatment"])]
    for edge, run in groupby(present, key=_edge):
        labels = [STYLES[t].label for t in run]
        sns.scatterplot(
            data=nets[nets["label"].isin(labels)],
            x="x",
            y=y,
            hue="label",
            hue_order=labels,
            palette={STYLES[t].label: STYLES[t].facecolor for t in treatments},
            style="label",
            style_order=labels,
            markers={STYLES[t].label: STYLES[t].marker for t in treatments},
            s=POINT_SIZE,
            edgecolor=edge,
            linewidth=linewidth,
            zorder=3,
            legend="full" if legend else False,
            ax=ax,
            **kw,
        )


def interval_bars(ax: Axes, cells: pd.DataFrame, color, y: str = "top1", dx: float = 0.0):
    """95% t interval at each n over independent units (a base net, or a (split, seed) group
    where cells copy from the other half: what the claims resample), drawn around the mean.

    For top-1 it is the interval of each cell's difference to its own base (`cells` come
    from pair_with_base): how far apart the halves' levels are (some halves are much
    easier) is not the uncertainty of an effect. None with fewer than 3 units.
    """
    for n, group in cells.groupby("n"):
        keys = list(unit_keys(group["treatment"].unique()))
        values = group[y] - group["base_top1"] if y == "top1" else group[y]
        per_unit = values.groupby([group[k] for k in keys]).mean()
        low, high = t_interval(per_unit.to_numpy())
        if not np.isnan(low):
            shift = group[y].mean() - per_unit.mean()  # onto the line through the nets' mean
            xs = [n + dx, n + dx]
            ax.plot(xs, [low + shift, high + shift], color=color, lw=2.5, alpha=0.6, zorder=2)
