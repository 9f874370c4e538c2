"""Figures 2 and 3 of Yosinski et al. (2014), drawn from the tidy results table.

Diverged nets are left out of every point and mean and counted in a footnote, so a chance-level
point on a figure is always a real result, never a crashed run.

Points are `sns.scatterplot` and mean lines `sns.lineplot` (`errorbar=None`), their hue, marker
and colours mapped from the treatment registry. The interval bars are not seaborn's: its
`errorbar=` resamples the rows (nets), while a bar here is the t interval over independent units
of each cell's difference to its own base (`_interval_bars`), so they are drawn with matplotlib,
as are the reference lines (`axhline`) and the annotations, which seaborn has no function for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import groupby
from pathlib import Path

import matplotlib

# Figures are drawn on cluster nodes and in tests without a display.
matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..atomic import write_atomic
from ..layers import NUM_LAYERS
from ..treatments import RANDOM_INIT, REGISTRY
from .claims import HIGH_N_MIN, MID_N, unit_keys
from .nets import excluded_nets, pair_with_base, usable_nets
from .stats import t_interval


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
FIGURE2_TREATMENTS = ("base", "selffer", "selffer_ft", "transfer", "transfer_ft")
X_LABEL = "Layer n at which network is chopped and retrained"
N_TICKS = range(NUM_LAYERS)
POINT_SIZE = 28
# Edge width of the figures' points and line markers: matplotlib's defaults, not seaborn's.
EDGE_WIDTH = matplotlib.rcParams["patch.linewidth"]
MARKER_EDGE_WIDTH = matplotlib.rcParams["lines.markeredgewidth"]


# ------------------------------------------------------------------------------------
# Shared pieces


def _save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
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


def _no_data(ax: Axes, what: str = "no data") -> None:
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _n_axis(ax: Axes) -> None:
    ax.set_xticks(list(N_TICKS))
    ax.set_xlim(-0.6, NUM_LAYERS - 0.4)
    ax.set_xlabel(X_LABEL)


def _title(fig: Figure, df: pd.DataFrame, title: str) -> None:
    """Title with the count of nets not counted: a reader must know what the means leave out."""
    bad = excluded_nets(df)
    if bad.empty:
        note = "every net trained"
    else:
        counts = bad["status"].value_counts().sort_index()
        kinds = " and ".join(f"{count} {status}" for status, count in counts.items())
        note = f"{kinds} net(s) drawn as {EXCLUDED_MARKER_NAME}, not counted"
    fig.suptitle(f"{title} ({note})", fontsize=11)


# Nets whose status is not `trained`: drawn where they scored, never averaged in.
EXCLUDED_MARKER, EXCLUDED_MARKER_NAME, EXCLUDED_COLOR = "x", "×", "#e31a1c"


def _excluded_points(ax: Axes, bad: pd.DataFrame) -> None:
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


def _styled(nets: pd.DataFrame) -> pd.DataFrame:
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


def _points(
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
    nets = _styled(nets[nets["treatment"].isin(treatments)])
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


def _means_by_n(nets: pd.DataFrame, y: str = "top1") -> pd.Series:
    return nets.groupby("n")[y].mean().sort_index()


def _interval_bars(ax: Axes, cells: pd.DataFrame, color, y: str = "top1", dx: float = 0.0):
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


# ------------------------------------------------------------------------------------
# Figure 2


def _figure2_points(ax: Axes, nets: pd.DataFrame, bad: pd.DataFrame) -> None:
    _excluded_points(ax, bad)
    _points(ax, nets, FIGURE2_TREATMENTS)
    ax.set_xlabel("")  # the shared n axis is labelled under the bottom panel
    if nets.empty:
        _no_data(ax)
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
    _annotate(ax, text, (int(mid.idxmin()), mid.min()), (0, -28), STYLES["selffer"].color)


def _annotate_drop(ax: Axes, anb: pd.Series, base: float) -> None:
    if len(anb) < 2:
        return
    drop = anb.iloc[-1] - base
    n_top = int(anb.index[-1])
    label = "AnB drop" if drop < 0 else "no AnB drop"
    text = f"{label} at n={n_top}: {100 * drop:+.1f}%"
    # Left of the last point: below it would sit on the n tick labels.
    _annotate(ax, text, (n_top, anb.iloc[-1]), (-75, 0), STYLES["transfer"].color)


def _annotate_boost(ax: Axes, anb_ft: pd.Series, base: float) -> None:
    high = anb_ft[anb_ft.index >= HIGH_N_MIN]
    at = high if not high.empty else anb_ft
    boost = at.mean() - base
    label = "AnB+ boost" if boost > 0 else "no AnB+ boost"
    lo, hi = int(at.index[0]), int(at.index[-1])
    span = f"n={lo}" if lo == hi else f"n={lo}..{hi}"
    text = f"{label} ({span}): {100 * boost:+.1f}%"
    n_at = int(at.index[len(at) // 2])
    _annotate(ax, text, (n_at, at[n_at]), (0, 22), STYLES["transfer_ft"].color)


def _figure2_annotations(ax: Axes, means: dict[str, pd.Series], base: float) -> None:
    """Label the three effects the paper reads off this panel, where the data allows."""
    if "selffer" in means:
        _annotate_dip(ax, means["selffer"])
    if np.isnan(base):
        return
    if "transfer" in means:
        _annotate_drop(ax, means["transfer"], base)
    if "transfer_ft" in means:
        _annotate_boost(ax, means["transfer_ft"], base)


def _mean_lines(ax: Axes, nets: pd.DataFrame, treatments: list[str]) -> None:
    """A line through the mean of each treatment per n, at n + offset, colour and marker from
    the registry; no seaborn interval (see `_interval_bars`)."""
    if not treatments:
        return
    labels = [STYLES[t].label for t in treatments]
    sns.lineplot(
        data=_styled(nets),
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


def _figure2_means(ax: Axes, nets: pd.DataFrame, paired: pd.DataFrame) -> None:
    if nets.empty:
        _no_data(ax)
        return
    base_nets = nets[nets["treatment"] == "base"]
    base = float(base_nets["top1"].mean()) if not base_nets.empty else float("nan")
    if not np.isnan(base):
        ax.axhline(base, color="black", ls="--", lw=1, label="base (mean)")
        mean_base = pd.DataFrame({"treatment": ["base"], "n": [0], "top1": [base]})
        _points(ax, mean_base, ["base"], legend=False, linewidth=EDGE_WIDTH)
    cells = [t for t in FIGURE2_TREATMENTS[1:] if t in set(nets["treatment"])]
    means = {t: _means_by_n(nets[nets["treatment"] == t]) for t in cells}
    _mean_lines(ax, nets[nets["treatment"].isin(cells)], cells)
    for treatment in cells:
        style = STYLES[treatment]
        _interval_bars(ax, paired[paired["treatment"] == treatment], style.color, dx=style.offset)
    _figure2_annotations(ax, means, base)
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
        _figure2_points(top, nets, bad)
        paired = pair_with_base(df)
        _figure2_means(bottom, nets, paired[paired["split_kind"] == "random"])
        _n_axis(bottom)
        top.tick_params(labelbottom=True)
        _title(fig, df, "Figure 2: random splits")
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------------
# Figure 3


def _target_palette(targets: list[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(targets, sns.color_palette("deep", max(len(targets), 1)), strict=False))


def _figure3_dissimilar(ax: Axes, nets: pd.DataFrame, paired: pd.DataFrame) -> None:
    dis = nets[(nets["split_kind"] == "dissimilar") & nets["treatment"].isin(["base", "transfer"])]
    ax.set_title("(a) Dissimilar split: base and AnB")
    ax.set_ylabel("Top-1 accuracy")
    if dis.empty:
        _no_data(ax)
        return
    targets = sorted(dis["target"].unique())
    palette = _target_palette(targets)
    dis = dis.assign(line="target " + dis["target"])
    # Base nets: white circles edged in the target's colour (seaborn's hue fills, so one call
    # per target); AnB nets: the target's colour.
    for target in targets:
        sns.scatterplot(
            data=dis[(dis["target"] == target) & (dis["treatment"] == "base")],
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
        data=dis[dis["treatment"] == "transfer"],
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
        _interval_bars(ax, paired[paired["target"] == target], palette[target])
    ax.legend(fontsize=8, loc="lower left")


def _chance_lines(ax: Axes, nets: pd.DataFrame) -> None:
    for i, chance in enumerate(sorted(nets["chance"].dropna().round(6).unique())):
        ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance" if i == 0 else None)


RANDOM_TREATMENTS = tuple(t.name for t in REGISTRY if t.is_cell and t.prefix == RANDOM_INIT)


def _figure3_random(ax: Axes, nets: pd.DataFrame, bad: pd.DataFrame, paired: pd.DataFrame) -> None:
    ax.set_title("(b) Random frozen layers (all splits)")
    _excluded_points(ax, bad[bad["treatment"].isin(RANDOM_TREATMENTS)])
    ax.set_ylabel("Top-1 accuracy")
    rnd = nets[nets["treatment"].isin(RANDOM_TREATMENTS)]
    if rnd.empty:
        _no_data(ax)
        return
    # Only the bases of the splits that have random nets, so the n=0 point is comparable.
    base = nets[(nets["treatment"] == "base") & nets["split"].isin(rnd["split"].unique())]
    _points(ax, base, ["base"])
    for treatment in RANDOM_TREATMENTS:
        arm = rnd[rnd["treatment"] == treatment]
        if arm.empty:
            continue
        style = STYLES[treatment]
        _points(ax, arm, [treatment], legend=False, alpha=0.6)
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
        _interval_bars(ax, paired[paired["treatment"] == treatment], style.color)
    _chance_lines(ax, pd.concat([base, rnd]))
    ax.legend(fontsize=8, loc="upper right")


def _relative_series(nets: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    paired = nets.assign(rel=(nets["top1"] - nets["base_top1"]) / nets["base_top1"])
    anb = paired["treatment"] == "transfer"
    return [
        (
            "AnB, random splits",
            paired[anb & (paired["split_kind"] == "random")],
            STYLES["transfer"].color,
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


def _figure3_relative(ax: Axes, df: pd.DataFrame) -> None:
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
            _interval_bars(ax, sub, color, y="rel")
    ax.axhline(0, color="black", lw=0.8)
    if not series:
        _no_data(ax)
        return
    ax.legend(fontsize=8, loc="lower left")


def figure3(df: pd.DataFrame, path: str | Path, dpi: int = 150) -> Path:
    """Paper Figure 3: (a) dissimilar split, (b) random frozen layers, (c) top-1 vs base."""
    nets = usable_nets(df)
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
        paired = pair_with_base(df)
        anb = (paired["split_kind"] == "dissimilar") & (paired["treatment"] == "transfer")
        _figure3_dissimilar(axes[0], nets, paired[anb])
        _figure3_random(axes[1], nets, excluded_nets(df), paired)
        _figure3_relative(axes[2], df)
        for ax in axes:
            _n_axis(ax)
        _title(fig, df, "Figure 3")
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------------
# Training curves


def training_curves(history: pd.DataFrame, path: str | Path, dpi: int = 150) -> Path:
    """Validation top-1 and training loss per epoch, a column per treatment, a line per net
    coloured by n; nets not trained are dashed, so a collapse shows at a glance."""
    if history.empty:
        fig, ax = plt.subplots(figsize=(6, 3))
        _no_data(ax, "no training history")
        return _save(fig, path, dpi)
    order = [t for t in STYLES if t in set(history["treatment"])]
    long = history.assign(
        net=history[["split", "target", "treatment", "n", "seed"]]
        .astype(str)
        .agg("/".join, axis=1),
        treatment=history["treatment"].map(lambda t: STYLES[t].label if t in STYLES else t),
        status=np.where(history["status"] == "trained", "trained", "not trained"),
    ).melt(
        id_vars=["net", "treatment", "n", "status", "epoch"],
        value_vars=["val_top1", "loss"],
        var_name="measure",
    )
    long["measure"] = long["measure"].map({"val_top1": "validation top-1", "loss": "train loss"})
    with sns.axes_style("whitegrid"):
        grid = sns.relplot(
            data=long,
            x="epoch",
            y="value",
            row="measure",
            col="treatment",
            col_order=[STYLES[t].label for t in order],
            hue="n",
            palette="viridis",
            units="net",
            estimator=None,
            style="status",
            style_order=["trained", "not trained"],
            kind="line",
            height=2.6,
            aspect=0.9,
            linewidth=0.9,
            alpha=0.8,
            facet_kws={"sharey": "row", "margin_titles": True},
        )
        grid.set_titles(row_template="{row_name}", col_template="{col_name}")
        n_bad = long.loc[long["status"] != "trained", "net"].nunique()
        note = f"{n_bad} net(s) not trained, dashed" if n_bad else "every net trained"
        grid.figure.suptitle(f"Training curves, one line per net ({note})")
        grid.figure.subplots_adjust(top=0.88)
    return _save(grid.figure, path, dpi)
