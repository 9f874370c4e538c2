"""claims.md: the method, the margins, the nets left out, the verdicts and the mean top-1 table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from ..training.status import CHANCE, STATUSES, TRAINED
from ..treatments import BY_NAME, CAFFE, is_random
from . import convergence, measures
from .claims import NOT_JUDGED, PAPER_GAIN, REGISTRY, Claim
from .measured import interval_text, pct, points, signed_pct
from .nets import (
    DISPLAY_NAMES,
    NET_KEYS,
    TREATMENT_ORDER,
    excluded_nets,
    normalise,
    usable_nets,
)
from .nets import counts as counts_as_used
from .stats import MIN_UNITS, t_interval
from .units import BASE_NET

METHOD = (
    "Each claim of Yosinski et al. (2014) is turned into one number per independent unit, "
    "measured on the trained nets. A unit is a base net with every cell compared with it "
    "(claims on BnB, BnB+ and random cells); a (split, seed) group when a claim uses AnB+: a "
    "transfer cell copies from one base and is compared with the other, so both bases of a "
    "split and seed are in every such cell; and a random split for the AnB decline, whose "
    "cells share their split's class partition (the interval over source base nets is shown "
    "beside it). The effect is the mean over units, in points of top-1 and as a share of the "
    "base's top-1 above chance (the 'gain' scale, on which the paper's 500-class effects and "
    "this run's can be compared); the 95% interval is Student-t over the unit values (Welch "
    "for the dissimilar-vs-random difference); with fewer than "
    f"{MIN_UNITS} units there is no interval and the verdict is inconclusive. A verdict, "
    "judged on the gain scale, is 'reproduced' when the whole interval lies past the claim's "
    "margin on the paper's side, 'not reproduced' when it lies entirely on the other side of "
    "the margin, and 'inconclusive' otherwise; 'not judged' when the convergence check above "
    "fails for a claim that under-trained base nets confound. Every net was selected "
    "(checkpoint choice) on a validation split carved from the training images and is "
    "reported on the untouched test images; the paper reported the mean of the 10 best "
    "scores on the same set it selected on, so its numbers are slightly optimistic and "
    "comparable with ours in shape, not level. See docs/claims.md."
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
        [f"`{spec.name}`", spec.margin.text(), " × ".join(spec.keys), spec.margin.reason]
        for spec in REGISTRY
    ]
    return _md_table(["claim", "margin", "unit", "why this margin"], rows)


def _ci(low: float, high: float) -> str:
    return interval_text((low, high))


def _verdict_text(claim: Claim) -> str:
    return f"{claim.verdict} (no data)" if claim.n_nets == 0 else claim.verdict


def _control_text(c: Claim) -> str:
    if not c.control:
        return "–"
    return (
        f"{c.control}: {signed_pct(c.control_gain_effect)} "
        f"{_ci(c.control_gain_ci_low, c.control_gain_ci_high)} (paper "
        f"{signed_pct(c.paper_control_effect / PAPER_GAIN)}); in points "
        f"{points(c.control_effect)} (paper {points(c.paper_control_effect)})"
    )


def _points_text(c: Claim) -> str:
    if pd.isna(c.effect):
        return "n/a"
    ci = "" if pd.isna(c.ci_low) else f" [{points(c.ci_low)}, {points(c.ci_high)}]"
    return f"{points(c.effect)}{ci}"


def _error_text(c: Claim) -> str:
    """The error scale beside the verdict's: effect [CI] (paper), margin, its verdict."""
    if not c.error_margin:
        return "–"
    return (
        f"{signed_pct(c.error_effect)} {_ci(c.error_ci_low, c.error_ci_high)} (paper "
        f"{signed_pct(c.paper_error_effect)}); margin {c.error_margin}: {c.error_verdict}"
    )


def verdict_words(c: Claim) -> str:
    """The verdict, flagged where the error scale would give another."""
    flag = " (scale-dependent)" if c.scale_dependent else ""
    return f"{_verdict_text(c)}{flag}"


def _claims_section(claims: Sequence[Claim]) -> str:
    header = [
        "claim",
        "statement",
        "paper",
        "paper effect (gain)",
        "effect (gain)",
        "95% CI",
        "effect, points [95% CI]",
        "control",
        "margin",
        "error scale",
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
            "not reported" if pd.isna(c.paper_gain_effect) else signed_pct(c.paper_gain_effect),
            signed_pct(c.gain_effect),
            _ci(c.gain_ci_low, c.gain_ci_high),
            _points_text(c),
            _control_text(c),
            c.margin,
            _error_text(c),
            f"{c.n_units} ({c.unit})",
            c.n_nets,
            f"**{verdict_words(c)}**",
            c.detail,
        ]
        for c in claims
    ]
    return _md_table(header, rows)


def _excluded_section(df: pd.DataFrame) -> str:
    bad = excluded_nets(df)
    if bad.empty:
        return "Every net counts: none is excluded."
    counts = ", ".join(f"{n} {s}" for s, n in bad["status"].value_counts().sort_index().items())
    rows = bad[[*NET_KEYS, "status", "status_reason"]].itertuples(index=False)
    table = _md_table([*NET_KEYS, "status", "reason"], rows)
    quoted = "\n".join(f"> {line}" for line in table.splitlines())
    return (
        f"> **Warning: {len(bad)} net(s) excluded ({counts})**. A diverged net's loss went "
        "non-finite; a failed net did not learn or collapsed; a chance net outside the "
        "random-weight arms never left chance. They are left out of every mean, "
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
    used = int(counts_as_used(nets).sum())
    chance = int((nets["status"] == CHANCE).sum())
    at_chance = (
        f" A `chance` net never left chance (its training loss stayed within 3% of ln k); "
        f"on frozen random layers that is the result the paper predicts, so the random-"
        f"weight claims count it ({int((counts_as_used(nets) & (nets['status'] == CHANCE)).sum())} "
        f"of the {chance}), and every other claim leaves it out."
        if chance
        else ""
    )
    learned = int(counts.get(TRAINED, 0))
    return (
        f"**Nets:** {len(nets)} in the table ({by_status}); {used} used: {learned} learned, "
        f"{used - learned} never left chance.{at_chance}"
    )


@dataclass(frozen=True)
class _Arm:
    """A random-weight arm as measures.share_kept reads a claim."""

    treatments: tuple[str, ...]
    keys: tuple[str, ...] = BASE_NET
    control: str = ""
    ns: tuple[int, ...] = ()


def random_arms(df: pd.DataFrame) -> list[dict]:
    """Per random-weight arm (init x lr): its lr, init, mean top-1 by n, the share of the
    base's gain kept at n >= 3 per base net (mean, 95% CI, units) and its nets by status."""
    table = normalise(df)
    arms = []
    for t in TREATMENT_ORDER:
        nets = table[table["treatment"] == t]
        if nets.empty or not is_random(t):
            continue
        found = measures.share_kept(df, _Arm((t,)))
        kept = found.measured.gain
        lrs = sorted(set(nets["recipe_lr"].dropna())) if "recipe_lr" in nets else []
        used = usable_nets(df)
        used = used[(used["treatment"] == t) & (used["split_kind"] == "random")]
        arms.append(
            {
                "treatment": t,
                "init": "paper" if BY_NAME[t].init == CAFFE else "He",
                "lr": lrs[0] if len(lrs) == 1 else float("nan"),
                "top1_by_n": used.groupby("n")["top1"].mean().to_dict(),
                "kept": float(kept.mean()) if len(kept) else float("nan"),
                "kept_ci": found.measured.cis()[1] if len(kept) else (float("nan"),) * 2,
                "kept_units": kept,
                "statuses": nets["status"].value_counts().to_dict(),
            }
        )
    return arms


def _random_arms_section(df: pd.DataFrame) -> str:
    arms = random_arms(df)
    if not arms:
        return "No random-weight cells in this run."
    ns = sorted({n for arm in arms for n in arm["top1_by_n"]})
    header = ["arm", "init", "lr", *(f"n={n}" for n in ns), "kept at n≥3 [95% CI]", "nets"]
    rows = []
    for arm in arms:
        by_n = arm["top1_by_n"]
        statuses = ", ".join(f"{k} {s}" for s, k in sorted(arm["statuses"].items()))
        rows.append(
            [
                DISPLAY_NAMES[arm["treatment"]],
                arm["init"],
                f"{arm['lr']:g}",
                *("–" if n not in by_n else pct(by_n[n]) for n in ns),
                f"{pct(arm['kept'])} {_ci(*arm['kept_ci'])}".replace("+", ""),
                statuses,
            ]
        )
    lines = [_md_table(header, rows)]
    by_lr: dict[float, dict[str, dict]] = {}
    for arm in arms:
        by_lr.setdefault(arm["lr"], {})[arm["init"]] = arm
    for lr, pair in sorted(by_lr.items()):
        if set(pair) != {"He", "paper"}:
            continue
        he, paper = pair["He"]["kept_units"], pair["paper"]["kept_units"]
        common = he.index.intersection(paper.index)
        diff = he[common] - paper[common]
        ci = t_interval(diff.to_numpy())
        lines.append(
            f"- Init at equal lr {lr:g}: He's random layers keep "
            f"{100 * diff.mean():+.1f} points more of the base's gain over chance than the "
            f"paper's init at n≥3, 95% CI [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}] (t over "
            f"{len(common)} base nets with both arms)."
        )
    return "\n\n".join(lines)


STUDY = "config/study.yaml; results/study/claims.md; docs/claims.md#the-study"


def _scope(claims: Sequence[Claim]) -> str:
    """Which claims this run's grid can answer, and where the others are answered."""
    unjudged = [f"`{c.name}`" for c in claims if c.verdict == NOT_JUDGED and c.n_nets]
    no_data = [f"`{c.name}`" for c in claims if c.n_nets == 0]
    judged = [f"`{c.name}`" for c in claims if c.n_nets and c.verdict != NOT_JUDGED]
    text = f"**Judged in this run:** {len(judged)} of {len(claims)} claims"
    text += f" ({', '.join(judged)})." if judged else "."
    if unjudged:
        text += f" Not judged (base nets not converged): {', '.join(unjudged)}."
    if no_data:
        text += f" No data in this grid: {', '.join(no_data)}."
    if unjudged or no_data:
        text += (
            " The study trains every net to convergence with enough independent units for "
            f"each claim ({STUDY})."
        )
    return text


def render_markdown(df: pd.DataFrame, claims: Sequence[Claim]) -> str:
    parts = [
        "# Claims of Yosinski et al. (2014), checked against this run",
        convergence.check(df).markdown(),
        _scope(claims),
        METHOD,
        _nets_line(df),
        _excluded_section(df),
        "## Claims",
        _claims_section(claims),
        "## Margins",
        margins_markdown(),
        "## Mean top-1 by treatment and n (random splits, nets that count)",
        _means_section(df),
        "## Random-weight arms: init × lr",
        "Frozen random layers of two inits (He-normal; the paper's Caffe Gaussians) at two "
        "learning rates of the layers above them, on the same splits and seeds: the init's "
        "effect is read at equal lr. Mean top-1 on random splits by n (nets that count, "
        "`chance` ones included), the share of the base's gain over chance kept at n≥3 (per "
        "base net), and every net of the arm by status.",
        _random_arms_section(df),
    ]
    return "\n\n".join(parts) + "\n"
