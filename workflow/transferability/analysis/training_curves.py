"""Training curves: validation top-1 and training loss per epoch, for every net."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .plotting import STYLES, no_data, save


def training_curves(history: pd.DataFrame, path: str | Path, dpi: int = 150) -> Path:
    """Validation top-1 and training loss per epoch, a column per treatment, a line per net
    coloured by n; nets not trained are dashed, so a collapse shows at a glance."""
    if history.empty:
        fig, ax = plt.subplots(figsize=(6, 3))
        no_data(ax, "no training history")
        return save(fig, path, dpi)
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
    return save(grid.figure, path, dpi)
