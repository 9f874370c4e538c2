"""claims.md: the method, the margins, the nets left out, the verdicts and the mean top-1 table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from .claims import (
    MARGINS,
    SPECS,
    Claim,
    pct,
    signed_pct,
)
from .nets import (
    DISPLAY_NAMES,
    NET_KEYS,
    STATUSES,
    TRAINED,
    TREATMENT_ORDER,
    excluded_nets,
    normalise,
    usable_nets,
)
from .stats import MIN_UNITS

METHOD = (
    "Each claim of Yosinski et al. (2014) is turned into one number per independent unit, "
    "measured on the trained nets. A unit is a base net with every cell compared with it "
    "(claims on BnB, BnB+ and random cells), or a (split, seed) group when a claim uses AnB or "
    "AnB+: a transfer cell copies from one base and is compared with the other, so both bases "
    "of a split and seed are in every such cell. The effect is the mean over units; the 95% "
    "interval is Student-t over the unit values (Welch for the dissimilar-vs-random "
    f"difference); with fewer than {MIN_UNITS} units there is no interval and the verdict is "
    "inconclusive. A verdict is 'reproduced' when the whole interval lies past the claim's "
    "margin on the paper's side, 'not reproduced' when it lies entirely on the other side of "
    "the margin, and 'inconclusive' otherwise. Every net was selected (checkpoint choice) on a "
    "validation split carved from the training images and is reported on the untouched test "
    "images; the paper reported the mean of the 10 best scores on the same set it selected "
    "on, so its numbers are slightly optimistic and comparable with ours in shape, not level. "
    "See docs/claims.md."
)


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def margins_markdown() -> str:
    """The margins table: rendered into every claims.md and pasted into docs/claims.md."""
    rows = [
        [f"`{name}`", margin.text(), " × ".join(SPECS[name].keys), margin.reason]
        for name, margin in MARGINS.items()
    ]
    return _md_table(["claim", "margin", "unit", "why this margin"], rows)


def _ci(low: float, high: float) -> str:
    return "n/a" if pd.isna(low) else f"[{signed_pct(low)}, {signed_pct(high)}]"


def _verdict_text(claim: Claim) -> str:
    return f"{claim.verdict} (no data)" if claim.n_nets == 0 else claim.verdict


def _control_text(c: Claim) -> str:
    if not c.control:
        return "–"
    return (
        f"{c.control}: {signed_pct(c.control_effect)} "
        f"{_ci(c.control_ci_low, c.control_ci_high)} (paper {signed_pct(c.paper_control_effect)})"
    )


def _claims_section(claims: Sequence[Claim]) -> str:
    header = [
        "claim",
        "statement",
        "paper",
        "paper effect",
        "effect",
        "95% CI",
        "control",
        "margin",
        "units",
        "nets",
        "verdict",
        "how measured",
    ]
    rows = [
        [
            f"`{c.name}`",
            c.statement,
            c.paper_value,
            "not reported" if pd.isna(c.paper_effect) else signed_pct(c.paper_effect),
            signed_pct(c.effect),
            _ci(c.ci_low, c.ci_high),
            _control_text(c),
            c.margin,
            f"{c.n_units} ({c.unit})",
            c.n_nets,
            f"**{_verdict_text(c)}**",
            c.detail,
        ]
        for c in claims
    ]
    return _md_table(header, rows)


def _excluded_section(df: pd.DataFrame) -> str:
    bad = excluded_nets(df)
    if bad.empty:
        return "Every net trained: none is excluded."
    counts = ", ".join(f"{n} {s}" for s, n in bad["status"].value_counts().sort_index().items())
    rows = bad[[*NET_KEYS, "status", "status_reason"]].itertuples(index=False)
    table = _md_table([*NET_KEYS, "status", "reason"], rows)
    quoted = "\n".join(f"> {line}" for line in table.splitlines())
    return (
        f"> **Warning: {len(bad)} net(s) excluded ({counts})**. A diverged net's loss went "
        "non-finite; a failed net did not learn or collapsed. They are left out of every mean, "
        "interval and claim (and of every unit that needs them as a base):\n>\n" + quoted
    )


def mean_top1_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean top-1 per treatment (rows, paper order) and n (columns), random splits only."""
    nets = usable_nets(df)
    nets = nets[nets["split_kind"] == "random"]
    if nets.empty:
        return pd.DataFrame()
    table = nets.pivot_table(index="treatment", columns="n", values="top1", aggfunc="mean")
    order = [t for t in TREATMENT_ORDER if t in table.index]
    return table.reindex(order).sort_index(axis=1)


def _means_section(df: pd.DataFrame) -> str:
    table = mean_top1_table(df)
    if table.empty:
        return "No trained nets on random splits."
    header = ["treatment", *(f"n={n}" for n in table.columns)]
    rows = [
        [DISPLAY_NAMES.get(t, t), *("–" if pd.isna(v) else pct(v) for v in table.loc[t])]
        for t in table.index
    ]
    return _md_table(header, rows)


def _nets_line(df: pd.DataFrame) -> str:
    nets = normalise(df)
    counts = nets["status"].value_counts()
    others = [s for s in counts.index if s not in STATUSES]
    by_status = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in [*STATUSES, *others])
    used = int(counts.get(TRAINED, 0))
    return f"**Nets:** {len(nets)} in the table ({by_status}); {used} used."


def render_markdown(df: pd.DataFrame, claims: Sequence[Claim]) -> str:
    parts = [
        "# Claims of Yosinski et al. (2014), checked against this run",
        METHOD,
        _nets_line(df),
        _excluded_section(df),
        "## Claims",
        _claims_section(claims),
        "## Margins",
        margins_markdown(),
        "## Mean top-1 by treatment and n (random splits, trained nets only)",
        _means_section(df),
    ]
    return "\n\n".join(parts) + "\n"
