"""Which nets of the tidy results table count: the one selection the claims, the figures and
the trace share. A net counts if its status is `trained`, or `chance` with frozen random
layers below it (there a net that never left chance is the result the paper predicts, and
only the random-weight claims read those treatments); a `diverged` or `failed` net, and a
`chance` one of any other treatment, is drawn and listed, never averaged in."""

from __future__ import annotations

import pandas as pd

from ..training.status import CHANCE, DIVERGED, FAILED, TRAINED
from ..treatments import BASE, REGISTRY, is_random

# The paper's names, in the registry's order (treatments.py), for claims.md's tables.
DISPLAY_NAMES: dict[str, str] = {t.name: t.label for t in REGISTRY}
TREATMENT_ORDER: tuple[str, ...] = tuple(DISPLAY_NAMES)


COLUMNS: dict[str, str] = {
    "split": "object",
    "split_kind": "object",
    "target": "object",
    "source": "object",
    "treatment": "object",
    "n": "int64",
    "seed": "int64",
    "top1": "float64",
    "diverged": "bool",
    "status": "object",
    "status_reason": "object",
    "chance": "float64",
    "epochs": "int64",
    "train_seconds": "float64",
}
BASE_KEYS = ["split", "target", "seed"]  # one base net per target half, split and seed
NET_KEYS = ["split", "target", "treatment", "n", "seed"]


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with every expected column present, so partial tables do not crash.

    Tables written before nets had a status get one from `diverged`; a net flagged diverged
    is never `trained`, whatever its status column says.
    """
    out = df.copy()
    for column, dtype in COLUMNS.items():
        if column not in out.columns:
            out[column] = pd.Series(False if dtype == "bool" else pd.NA, index=out.index)
    out["diverged"] = out["diverged"].fillna(False).astype(bool)
    derived = out["diverged"].map({True: DIVERGED, False: TRAINED})
    status = out["status"].astype("object").where(out["status"].notna(), derived)
    out["status"] = status.where(~(out["diverged"] & (status == TRAINED)), DIVERGED)
    # Empty reasons read back from CSV as NaN (a float column): text, with "" for none.
    reason = out["status_reason"].astype("object")
    out["status_reason"] = reason.where(reason.notna(), "").astype(str)
    _exclude_cells_of_excluded_sources(out)
    # An unknown n (-1) matches no claim, rather than failing the whole report.
    out["n"] = pd.to_numeric(out["n"], errors="coerce").fillna(-1).astype("int64")
    for column in ("top1", "chance"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out


def _exclude_cells_of_excluded_sources(out: pd.DataFrame) -> None:
    """A cell whose layers were copied from a base net that did not train measures nothing:
    it is marked failed (in place), with the reason naming that base."""
    bases = out[out["treatment"] == BASE]
    bad = bases[bases["status"] != TRAINED].set_index(["split", "target", "seed"])["status"]
    if bad.empty:
        return
    for i, row in out[(out["treatment"] != BASE) & (out["status"] == TRAINED)].iterrows():
        key = (row["split"], row["source"], row["seed"])
        if key in bad.index:
            out.loc[i, "status"] = FAILED
            out.loc[i, "status_reason"] = (
                f"its layers come from base net {row['split']}/{row['source']}/seed{row['seed']}, "
                f"which {bad[key]}"
            )


def counts(out: pd.DataFrame) -> pd.Series:
    """Which nets of a normalised table count: trained, or at chance on random layers."""
    random = out["treatment"].map(lambda t: t in RANDOM_TREATMENTS)
    return (out["status"] == TRAINED) | ((out["status"] == CHANCE) & random)


RANDOM_TREATMENTS = frozenset(t.name for t in REGISTRY if t.is_cell and is_random(t.name))


def usable_nets(df: pd.DataFrame) -> pd.DataFrame:
    """The nets that enter means, intervals and claims (`counts`)."""
    out = normalise(df)
    return out[counts(out)].reset_index(drop=True)


def excluded_nets(df: pd.DataFrame) -> pd.DataFrame:
    """Every net that does not count (diverged, failed, at chance outside the random
    arms, or an unknown status), sorted so reports list them in a stable order."""
    out = normalise(df)
    out = out[~counts(out)]
    return out.sort_values(NET_KEYS, kind="stable").reset_index(drop=True)


def pair_with_base(df: pd.DataFrame) -> pd.DataFrame:
    """Trained cells with a `base_top1` column from their own trained base net (same split,
    target and seed). Cells whose base is missing or excluded have nothing to be compared
    with and are dropped."""
    nets = usable_nets(df)
    bases = nets[nets["treatment"] == BASE]
    # A rerun could leave two bases for one key; averaging them keeps the merge one-to-one.
    bases = bases.groupby(BASE_KEYS, as_index=False)["top1"].mean()
    bases = bases.rename(columns={"top1": "base_top1"})
    cells = nets[nets["treatment"] != BASE]
    return cells.merge(bases, on=BASE_KEYS, how="inner", validate="many_to_one")
