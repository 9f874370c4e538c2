"""Command-line entry points, one per workflow rule: `python -m transferability STEP ...`.

Settings arrive as one JSON object (`--settings`), so a rule passes exactly what its
outputs depend on and nothing is pasted unquoted into a shell. Heavy imports
(torch, pandas) happen inside each step, so each job pays only for what it uses.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import PipelineError


def _prepare_data(args) -> None:
    from .data.sources import prepare

    prepare(args.settings, args.out)
    print(f"wrote {args.out}")


def _store_images(args) -> None:
    from .data.cache import load_cache
    from .data.store import write_store

    index = load_cache(args.index)
    out = write_store(index, args.settings.get("resize", 256), args.out, workers=args.threads)
    rows = out["rows"]
    print(f"wrote {args.out}: {rows['train']} train + {rows['test']} test images, decoded once")


def _prepare_ilsvrc_val(args) -> None:
    from .data.ilsvrc_val import sort_val

    counts = sort_val(args.devkit, args.val_dir, args.out, copy=args.copy)
    print(f"wrote {args.out}: {sum(counts.values())} images in {len(counts)} class folders")


def _make_images(args) -> None:
    import shutil
    from pathlib import Path

    from .data.smoke_images import write_images

    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write_images(args.settings, tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"wrote {out}: {args.settings['classes']} classes of JPEGs")


def _make_split(args) -> None:
    from .data import splits
    from .data.cache import load_cache
    from .data.sources import expand_groups

    s = args.settings
    cache = load_cache(args.cache)
    names = tuple(cache["classes"])
    dataset = {"name": s["dataset"], "wordnet_root": s.get("wordnet_root")}
    groups = s["groups"] if s["kind"] != "random" else s.get("avoid_groups")
    given = splits.resolve_groups(names, expand_groups(dataset, names, groups)) if groups else None
    if s["kind"] != "random":
        record = splits.split_from_settings(args.split, s, names, cache, given)
    else:  # a random split draws its own halves, distinct from the dissimilar ones
        avoid = [given] if given else []
        record = splits.split_from_settings(args.split, s, names, cache, avoid=avoid)
    splits.write_split(record, args.out)
    for half in splits.HALVES:
        classes = record["halves"][half]["classes"]
        print(f"{args.split} {half}: {len(classes)} classes: {classes}")


def _train_base(args) -> None:
    from .training.jobs import train_base

    r = train_base(
        cache=args.cache,
        split_path=args.split_file,
        split=args.split,
        half=args.half,
        seed=args.seed,
        settings=args.settings,
        threads=args.threads,
        out_model=args.out_model,
        out_metrics=args.out_metrics,
        resume=args.resume_state,
        provenance=args.provenance,
    )
    print(f"base {args.split}/{args.half} seed {args.seed}: top1 {r['top1']:.4f}")


def _train_cell(args) -> None:
    from .training.jobs import train_cell

    r = train_cell(
        cache=args.cache,
        split_path=args.split_file,
        split=args.split,
        target=args.target,
        treatment=args.treatment,
        n=args.n,
        seed=args.seed,
        base=args.base,
        settings=args.settings,
        threads=args.threads,
        out_metrics=args.out_metrics,
        resume=args.resume_state,
        provenance=args.provenance,
    )
    print(f"{args.treatment} {args.split}/{args.target} n={args.n}: top1 {r['top1']:.4f}")


def _aggregate(args) -> None:
    from .analysis.results_table import write_summary

    table = write_summary(
        args.metrics, args.out_table, args.out_csv, args.out_history, args.expected
    )
    print(f"wrote {args.out_table}: {len(table)} nets")


def _figures(args) -> None:
    from .analysis.figure2 import figure2
    from .analysis.figure3 import figure3
    from .analysis.results_table import read_history, read_summary
    from .analysis.training_curves import training_curves

    table = read_summary(args.table)
    dpi = args.settings.get("dpi", 150)
    figure2(table, args.figure2, dpi)
    figure3(table, args.figure3, dpi)
    if args.curves:
        training_curves(read_history(args.history), args.curves, dpi)


def _claims(args) -> None:
    from .analysis import claims, claims_report
    from .analysis.results_table import read_summary
    from .atomic import write_text

    table = read_summary(args.table)
    write_text(args.out, claims_report.render_markdown(table, claims.all_claims(table)))


def _tables(args) -> None:
    from .analysis.report_tables import write_tables
    from .analysis.results_table import read_summary

    write_tables(read_summary(args.table), args.claims_html, args.summary_html, args.nets)


def _smoke_report(args) -> int:
    from pathlib import Path

    from .analysis.smoke_report import NOT_GOOD, write_report

    # The report sits in the run's results folder (<results>/smoke_report.md).
    if write_report(args.metrics, Path(args.out).parent, args.out):
        return 0
    print(f"{NOT_GOOD}: the report above says why", file=sys.stderr)
    return 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m transferability", description=__doc__)
    sub = p.add_subparsers(dest="step", required=True)

    def step(name, func, *args_spec):
        sp = sub.add_parser(name)
        sp.set_defaults(func=func)
        sp.add_argument("--settings", type=json.loads, default={}, help="JSON object")
        for flag, kw in args_spec:
            sp.add_argument(flag, **kw)
        return sp

    req = {"required": True}
    common_train = (
        ("--cache", req),
        ("--split-file", req),
        ("--split", req),
        ("--seed", {"type": int, "required": True}),
        ("--threads", {"type": int, "default": 1}),
        # Per-epoch training state for resuming after a kill (not an output of the rule).
        ("--resume-state", {"default": None}),
        # The net's settings file (jobsettings.py): its key goes into the metrics.
        ("--provenance", {"default": None}),
    )
    step("prepare-data", _prepare_data, ("--out", req))
    step(
        "store-images",
        _store_images,
        ("--index", req),
        ("--threads", {"type": int, "default": 1}),
        ("--out", req),
    )
    step(
        "prepare-ilsvrc-val",
        _prepare_ilsvrc_val,
        ("--devkit", req),
        ("--val-dir", req),
        ("--out", req),
        ("--copy", {"action": "store_true", "help": "copy the images (default: symlinks)"}),
    )
    step("make-images", _make_images, ("--out", req))
    step("make-split", _make_split, ("--cache", req), ("--split", req), ("--out", req))
    step(
        "train-base",
        _train_base,
        *common_train,
        ("--half", req),
        ("--out-model", req),
        ("--out-metrics", req),
    )
    step(
        "train-cell",
        _train_cell,
        *common_train,
        ("--target", req),
        ("--treatment", req),
        ("--n", {"type": int, "required": True}),
        ("--base", {"default": None}),
        ("--out-metrics", req),
    )
    step(
        "aggregate",
        _aggregate,
        ("--metrics", {"nargs": "+", "required": True}),
        ("--out-table", req),
        ("--out-csv", req),
        ("--out-history", {"default": None}),
        # What the current config and code make of each net (jobsettings.py).
        ("--expected", {"default": None}),
    )
    step(
        "figures",
        _figures,
        ("--table", req),
        ("--figure2", req),
        ("--figure3", req),
        ("--history", {"default": None}),
        ("--curves", {"default": None}),
    )
    step("claims", _claims, ("--table", req), ("--out", req))
    step(
        "tables",
        _tables,
        ("--table", req),
        ("--claims-html", req),
        ("--summary-html", req),
        ("--nets", req),
    )
    step(
        "smoke-report",
        _smoke_report,
        ("--metrics", {"nargs": "+", "required": True}),
        ("--out", req),
    )
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
