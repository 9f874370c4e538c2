"""Keep a finished run of the default as the committed reference (results/reference/),
and say which committed runs are stale against today's code.

    PYTHONPATH=workflow python -m transferability_runtime.reference --started EPOCH_SECONDS
    PYTHONPATH=workflow python -m transferability_runtime.reference status [RUN ...]

`make reference` runs `make demo` from a clean results/ and then calls this, which copies
the table (summary.csv), the config used and a record of the run (wall time, cores,
machine, per-rule job time from Snakemake's benchmarks), and draws the figures and
claims again from the copied table: exactly what tests/test_reference.py redraws and
compares, so the committed figures and claims are provably those of the committed table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from transferability.atomic import write_text

REPO = Path(__file__).resolve().parents[2]
TABLE = "summary.csv"
HISTORY = "history.csv"
FIGURES = ("figure2.png", "figure3.png", "training_curves.png")
DISTANCES = "task_distance.csv"
CLAIMS = "claims.md"
RUN = "run.json"
ELAPSED = re.compile(r"Elapsed time: (\d+):(\d+):(\d+(?:\.\d+)?)")


def render(out: str | Path) -> None:
    """Figures and claims from out/summary.csv and the training curves from out/history.csv,
    into out/ (also what the test redraws)."""
    import pandas as pd

    from transferability.analysis import claims, claims_report
    from transferability.analysis.figure2 import figure2
    from transferability.analysis.figure3 import figure3
    from transferability.analysis.training_curves import training_curves

    out = Path(out)
    table = pd.read_csv(out / TABLE)
    figure2(table, out / FIGURES[0])
    figure3(table, out / FIGURES[1])
    training_curves(pd.read_csv(out / HISTORY), out / FIGURES[2])
    write_text(out / CLAIMS, claims_report.render_markdown(table, claims.all_claims(table)))


def verdict_table(runs: dict[str, str | Path]) -> str:
    """README's verdict table: one row per claim, one column per committed run (its effect
    on the gain scale with the 95% interval, and the verdict, flagged where the error scale
    would give another), from the runs' tables."""
    import pandas as pd

    from transferability.analysis.claims import BY_NAME, all_claims
    from transferability.analysis.claims_report import verdict_words
    from transferability.analysis.measured import pct, signed_pct

    per_run = {name: all_claims(pd.read_csv(Path(d) / TABLE)) for name, d in runs.items()}
    first = next(iter(per_run.values()))
    header = ["claim", "paper", *(f"{name}: effect [95% CI]" for name in per_run), "verdicts"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, claim in enumerate(first):
        row = [BY_NAME[claim.name].label]
        row.append(signed_pct(claim.paper_gain_effect).replace("n/a", "not reported"))
        verdicts = []
        for claims in per_run.values():
            c = claims[i]
            share = pct if BY_NAME[c.name].margin.scale.endswith("kept") else signed_pct
            ci = "" if pd.isna(c.gain_ci_low) else f" [{share(c.gain_ci_low)}, "
            ci += "" if pd.isna(c.gain_ci_low) else f"{share(c.gain_ci_high)}]"
            if c.control:
                ci += (
                    f"; {c.control} {signed_pct(c.control_gain_effect)} "
                    f"[{signed_pct(c.control_gain_ci_low)}, "
                    f"{signed_pct(c.control_gain_ci_high)}]"
                )
            row.append(f"{share(c.gain_effect)}{ci}")
            verdicts.append(verdict_words(c))
        row.append(" / ".join(verdicts))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def run_config(configfiles: list[str | Path]) -> dict:
    """The config a run with `--configfile FILES` sees: config/config.yaml with each file
    merged over it by Snakemake's own merge, the schema's defaults filled in as the
    Snakefile's `validate` does. Paths as `--configfile` takes them: from the working folder."""
    import yaml
    from snakemake.utils import update_config, validate

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for path in configfiles:
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return config


def run_plan(config: dict, results: str = "results"):
    """The keys today's code and data give the outputs of `config` (plan.py)."""
    from transferability.data import sources

    from . import plan, steps

    paths = plan.output_paths(config, results)
    source = "generated" if paths["generated"] else sources.source_digest(config["dataset"])
    return plan.Plan(config, paths, steps.code_fingerprint, source)


def stale_nets(out: str | Path, configfiles: list[str | Path]) -> list[str]:
    """The nets of a committed table whose recorded key (`key`: a digest of the net's
    settings, code and inputs, records.py) is not the one the current config files, data
    and code give them, each with both keys. Empty: every number of the run is what the
    current config, data and code make."""
    import pandas as pd

    nets = run_plan(run_config(configfiles))
    table = pd.read_csv(Path(out) / TABLE)
    if "key" not in table:
        return [f"{out}/{TABLE} has no key column: made before outputs recorded their keys"]
    stale = []
    for r in table.itertuples():
        if r.treatment == "base":
            key = nets.base(r.split, r.target, r.seed)
        else:
            key = nets.cell(r.split, r.target, r.treatment, r.n, r.seed)
        if key != r.key:
            name = f"{r.split}/{r.target}/{r.treatment}/n{r.n}/seed{r.seed}"
            stale.append(f"{name}: recorded {r.key}, current {key}")
    return stale


def configfiles_of(out: str | Path) -> list[str]:
    """The config files a committed run was made with (run.json), as --configfile took them."""
    record = json.loads((Path(out) / RUN).read_text())
    if "configfiles" in record:
        return record["configfiles"]
    words = record["command"].split(" (")[0].split()
    if "--configfile" not in words:
        return []
    return [w for w in words[words.index("--configfile") + 1 :] if not w.startswith("-")]


def status(runs: list[str | Path]) -> int:
    """One line per committed run: fresh (every net is what today's config files, data and
    code make) or stale, with the command that remakes it. Exit status 0 either way: a
    stale committed run is a fact to report, not an error."""
    for out in runs:
        files = configfiles_of(out)
        stale = stale_nets(out, [REPO / f for f in files])
        command = " ".join(["snakemake --cores 2", *(["--configfile", *files] if files else [])])
        if not files and Path(out).name == "reference":
            command = "make reference"
        if not stale:
            print(f"{out}: fresh (all nets are what this commit's config and code make)")
        else:
            made = json.loads((Path(out) / RUN).read_text())
            why = (
                f"{len(stale)} nets differ, e.g. {stale[0]}"
                if "has no key column" not in stale[0]
                else f"made at {made.get('commit') or made['date']}, before nets recorded keys"
            )
            print(f"{out}: stale ({why}); remake: {command}")
    return 0


def snakemake_elapsed(workdir: Path) -> float | None:
    """Seconds of 'Elapsed time' in the newest Snakemake log, if it has one."""
    logs = sorted((workdir / ".snakemake/log").glob("*.snakemake.log"), key=os.path.getmtime)
    for log in reversed(logs):
        match = ELAPSED.search(log.read_text(errors="replace"))
        if match:
            h, m, s = match.groups()
            return int(h) * 3600 + int(m) * 60 + float(s)
    return None


def job_seconds(results: Path) -> dict[str, dict[str, float]]:
    """Jobs and summed wall seconds per rule, from Snakemake's benchmark files."""
    per_rule: dict[str, dict[str, float]] = {}
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = tsv.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv")
        with open(tsv) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        entry = per_rule.setdefault(rule, {"jobs": 0, "seconds": 0.0})
        entry["jobs"] += 1
        entry["seconds"] = round(entry["seconds"] + sum(float(r["s"]) for r in rows), 2)
    return per_rule


def cpu_model() -> str:
    """The CPU's model name (timings are only comparable on one model)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str | None:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status"]:
        runs = argv[1:] or sorted(
            str(p.parent.relative_to(REPO)) for p in (REPO / "results").glob("*/" + RUN)
        )
        return status(runs)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results")
    p.add_argument("--out", default="results/reference")
    p.add_argument("--started", type=float, required=True, help="epoch seconds make demo began")
    p.add_argument("--ended", type=float, help="epoch seconds it ended (default: now)")
    p.add_argument("--elapsed", type=float, help="Snakemake's elapsed seconds (default: its log)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--workdir", default=".", help="where snakemake ran (for its log)")
    p.add_argument("--configfile", action="append", default=[], help="extra config files used")
    p.add_argument("--command", default="make reference (make clean; make demo)",
                   help="what made the run, for the record")  # fmt: skip
    args = p.parse_args(argv)
    seconds = (args.ended or datetime.now(UTC).timestamp()) - args.started
    results, out = Path(args.results), Path(args.out)
    if not (results / "summary.csv").is_file():
        print(f"error: {results}/summary.csv is missing; run `make demo` first", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(results / "summary.csv", out / TABLE)
    if (results / DISTANCES).is_file():  # each split's task distance (issue 32)
        shutil.copy2(results / DISTANCES, out / DISTANCES)
    import pandas as pd

    history = pd.read_parquet(results / "history.parquet", engine="pyarrow")
    write_text(out / HISTORY, history.to_csv(index=False))
    config = (REPO / "config/config.yaml").read_text()
    for extra in args.configfile:
        config += f"\n# merged over it: {extra}\n" + Path(extra).read_text()
    write_text(out / "config.yaml", config)
    import torch

    record = {
        "command": args.command,
        "configfiles": args.configfile,
        "commit": commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "make_demo_seconds": round(seconds, 1),
        "snakemake_elapsed_seconds": args.elapsed or snakemake_elapsed(Path(args.workdir)),
        "cores": args.cores,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "jobs_per_rule": job_seconds(results),
    }
    write_text(out / RUN, json.dumps(record, indent=1) + "\n")
    render(out)
    print(f"reference run written to {out}/ ({seconds / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
