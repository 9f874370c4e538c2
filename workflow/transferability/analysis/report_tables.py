"""From a figure or a claim back to the nets behind it, and the tables of the Snakemake report.

`nets_used` lists every net of the summary table with what it fed: `figure2` (trained
nets of random splits), `figure3` and `claims` (every trained net; a diverged or failed
net feeds nothing), with its status and the reason, next to the
metrics file it came from and the fingerprint of the code that trained it. The selection
is the one the figures and the claims make (nets.usable_nets; random splits for Figure 2).
"""

from __future__ import annotations

import html

import pandas as pd

from ..atomic import write_atomic, write_text
from .claims import all_claims, claims_table
from .nets import normalise, usable_nets

NET_COLUMNS = ["split", "split_kind", "target", "source", "treatment", "n", "seed"]
TRACE_COLUMNS = [
    "top1",
    "diverged",
    "status",
    "status_reason",
    "used_by",
    "metrics_path",
    "code_fingerprint",
    "torch_version",
    "device",
    "settings",
]


def nets_used(table: pd.DataFrame) -> pd.DataFrame:
    usable = usable_nets(table)
    used = set(map(tuple, usable[NET_COLUMNS].astype(str).itertuples(index=False)))
    random_split = set(
        map(
            tuple,
            usable.loc[usable["split_kind"] == "random", NET_COLUMNS]
            .astype(str)
            .itertuples(index=False),
        )
    )

    def used_by(row) -> str:
        key = tuple(str(row[c]) for c in NET_COLUMNS)
        if key not in used:
            return ""
        return " ".join(["figure2"] * (key in random_split) + ["figure3", "claims"])

    # normalise: tables from before nets had a status get one (from `diverged`).
    out = normalise(table)
    out["used_by"] = out.apply(used_by, axis=1) if len(out) else pd.Series(dtype=str)
    return out[NET_COLUMNS + [c for c in TRACE_COLUMNS if c in out.columns]]


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def write_tables(table: pd.DataFrame, claims_html, summary_html, nets_csv) -> None:
    claims = claims_table(all_claims(table))
    write_text(
        claims_html,
        _page("Claims of Yosinski et al. (2014)", claims.to_html(index=False, na_rep="")),
    )
    flat = table.drop(columns=["settings"], errors="ignore")
    write_text(summary_html, _page("Every trained net", flat.to_html(index=False, na_rep="")))
    write_atomic(nets_csv, lambda tmp: nets_used(table).to_csv(tmp, index=False))
