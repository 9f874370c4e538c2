"""The experiment's steps, each declared once: its name, the function that runs it, its
arguments and the package modules it calls into.

Everything else follows from the table STEPS: the command line `python -m transferability
STEP ...` (cli.py builds its parser from it), each step's code fingerprint (provenance.py
hashes the modules named here and what they import) and the rules' commands (the workflow
checks each rule's command against the step's arguments). Settings arrive as one JSON
object (`--settings`, which every step takes), so a rule passes exactly what its outputs
depend on and nothing is pasted unquoted into a shell. Heavy imports (torch, pandas)
happen inside each function, so each job pays only for what it uses.
"""

from __future__ import annotations

import json

# The shared process's client reads this table and must start in milliseconds: no import it
# can spare (not even typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any


class Arg:
    """One `--NAME VALUE` argument of a step."""

    def __init__(
        self,
        name: str,  # the flag without its dashes: "split-file" is --split-file, args.split_file
        type: Callable[[str], Any] = str,
        required: bool = True,
        default: Any = None,
        nargs: str | None = None,  # "+": one or more values
        switch: bool = False,  # a flag without a value (store_true)
        help: str | None = None,
    ):
        self.name, self.type, self.required, self.default = name, type, required, default
        self.nargs, self.switch, self.help = nargs, switch, help
        self.dest = name.replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        options: dict[str, Any] = {"help": self.help} if self.help else {}
        if self.switch:
            options["action"] = "store_true"
        else:
            if self.type is not str:
                options["type"] = self.type
            if self.nargs:
                options["nargs"] = self.nargs
            if self.required:
                options["required"] = True
            else:
                options["default"] = self.default
        parser.add_argument(f"--{self.name}", **options)


def optional(name: str, type: Callable[[str], Any] = str, default: Any = None, **kw) -> Arg:
    return Arg(name, type, required=False, default=default, **kw)


class Step:
    """A step of the workflow: one rule's command, `python -m transferability NAME ...`."""

    def __init__(
        self,
        name: str,
        run: Callable[[argparse.Namespace], int | None],  # its arguments in; exit status out
        arguments: tuple[Arg, ...],
        # The package modules `run` calls into, by their path in the package
        # (`training.jobs` is training/jobs.py): what its code fingerprint covers, with all
        # they import.
        modules: tuple[str, ...],
        # Run once per net (hundreds of short jobs, each mostly importing torch): where
        # jobs run side by side, a warm process shared by them pays off.
        per_net: bool = False,
    ):
        self.name, self.run, self.arguments = name, run, arguments
        self.modules, self.per_net = modules, per_net

    def argument(self, dest: str) -> Arg | None:
        return next((a for a in (*COMMON, *self.arguments) if a.dest == dest), None)


# Every step takes its settings, what its outputs depend on, as one JSON object, and its
# provenance (records.py): its key, the keys its inputs must have and its outputs, which
# the command line checks before the step runs and records after it succeeded.
SETTINGS = optional("settings", json.loads, default={}, help="JSON object")
PROVENANCE = optional("provenance", help='JSON object {"key", "inputs", "outputs"}')
COMMON = (SETTINGS, PROVENANCE)


# ------------------------------------------------------------------------ data


def prepare_data(args) -> None:
    from .data.sources import prepare

    prepare(args.settings, args.out)
    print(f"wrote {args.out}")


def store_images(args) -> None:
    from .data.cache import load_cache
    from .data.store import write_store

    s = args.settings
    index = load_cache(args.index)
    out = write_store(
        index,
        s.get("resize", 256),
        args.out,
        workers=args.threads,
        form=s.get("format", "raw"),
        quality=s.get("quality"),
    )
    rows = out["rows"]
    print(f"wrote {args.out}: {rows['train']} train + {rows['test']} test images, decoded once")


def prepare_ilsvrc_val(args) -> None:
    from .data.ilsvrc_val import sort_val

    counts = sort_val(args.devkit, args.val_dir, args.out, copy=args.copy)
    print(f"wrote {args.out}: {sum(counts.values())} images in {len(counts)} class folders")


def make_split(args) -> None:
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


# ------------------------------------------------------------------------ training


def declared(args, name: str) -> dict:
    """Step NAME's arguments by their names, as its job function takes them: the names in
    the table are the function's keywords, so neither is written twice."""
    step = next(s for s in STEPS if s.name == name)
    return {a.dest: getattr(args, a.dest) for a in (*COMMON, *step.arguments)}


def train_base(args) -> None:
    from .training.jobs import train_base

    r = train_base(**declared(args, "train-base"))
    print(f"base {args.split}/{args.half} seed {args.seed}: top1 {r['top1']:.4f}")


def train_cell(args) -> None:
    from .training.jobs import train_cell

    r = train_cell(**declared(args, "train-cell"))
    print(f"{args.treatment} {args.split}/{args.target} n={args.n}: top1 {r['top1']:.4f}")


def train_reference(args) -> None:
    from .training.reference import train_reference

    r = train_reference(**declared(args, "train-reference"))
    print(f"reference net on {len(r['classes'])} classes, seed {args.seed}: top1 {r['top1']:.4f}")


# ------------------------------------------------------------------------ analysis


def task_distance(args) -> None:
    from .analysis.distance import write_distances

    for row in write_distances(args.features, args.splits, args.out):
        print(f"{row['split']}: task distance {row['task_distance']:.3f}")


def aggregate(args) -> None:
    from .analysis.results_table import write_summary

    job = args.provenance
    keys = {path: entry["key"] for path, entry in job.read.items()} if job else {}
    table = write_summary(
        args.metrics, args.out_table, args.out_csv, args.out_history, keys, args.distances
    )
    print(f"wrote {args.out_table}: {len(table)} nets")


def figures(args) -> None:
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


def claims(args) -> None:
    from .analysis import claims, claims_report
    from .analysis.results_table import read_summary
    from .atomic import write_text

    table = read_summary(args.table)
    write_text(args.out, claims_report.render_markdown(table, claims.all_claims(table)))


def tables(args) -> None:
    from .analysis.report_tables import write_tables
    from .analysis.results_table import read_summary

    write_tables(read_summary(args.table), args.claims_html, args.summary_html, args.nets)


# ------------------------------------------------------------------------ the table

OUT = Arg("out")
THREADS = optional("threads", int, default=1)
# What every training job is given.
TRAINING = (
    Arg("cache"),
    Arg("split-file"),
    Arg("split"),
    Arg("seed", int),
    THREADS,
    # Per-epoch training state for resuming after a kill (not an output of the rule).
    optional("resume-state"),
)

STEPS: tuple[Step, ...] = (
    Step("prepare-data", prepare_data, (OUT,), ("data.sources",)),
    Step(
        "store-images",
        store_images,
        (Arg("index"), THREADS, OUT),
        ("data.store", "data.cache"),
    ),
    Step(
        "prepare-ilsvrc-val",
        prepare_ilsvrc_val,
        (
            Arg("devkit"),
            Arg("val-dir"),
            OUT,
            Arg("copy", switch=True, help="copy the images (default: symlinks)"),
        ),
        ("data.ilsvrc_val",),
    ),
    Step(
        "make-split",
        make_split,
        (Arg("cache"), Arg("split"), OUT),
        ("data.splits", "data.cache", "data.sources"),
    ),
    Step(
        "train-base",
        train_base,
        (*TRAINING, Arg("half"), Arg("out-model"), Arg("out-metrics")),
        ("training.jobs",),
        per_net=True,
    ),
    Step(
        "train-cell",
        train_cell,
        (
            *TRAINING,
            Arg("target"),
            Arg("treatment"),
            Arg("n", int),
            optional("base"),  # the checkpoint its first n layers come from (not random)
            Arg("out-metrics"),
        ),
        ("training.jobs",),
        per_net=True,
    ),
    Step(
        "train-reference",
        train_reference,
        (Arg("cache"), Arg("seed", int), THREADS, Arg("out-model"), Arg("out-features")),
        ("training.reference",),
        per_net=True,
    ),
    Step(
        "task-distance",
        task_distance,
        (Arg("features"), Arg("splits", nargs="+"), OUT),
        ("analysis.distance",),
    ),
    Step(
        "aggregate",
        aggregate,
        (
            Arg("metrics", nargs="+"),
            Arg("out-table"),
            Arg("out-csv"),
            optional("out-history"),
            optional("distances"),  # the task_distance step's file: a column per split
        ),
        ("analysis.results_table", "analysis.distance"),
    ),
    Step(
        "figures",
        figures,
        (
            Arg("table"),
            Arg("figure2"),
            Arg("figure3"),
            optional("history"),
            optional("curves"),
        ),
        (
            "analysis.figure2",
            "analysis.figure3",
            "analysis.training_curves",
            "analysis.results_table",
        ),
    ),
    Step(
        "claims",
        claims,
        (Arg("table"), OUT),
        ("analysis.claims_report", "analysis.results_table", "atomic"),
    ),
    Step(
        "tables",
        tables,
        (Arg("table"), Arg("claims-html"), Arg("summary-html"), Arg("nets")),
        ("analysis.report_tables", "analysis.results_table"),
    ),
)
