# Paths, the experiment grid, per-job settings and every job's key (what makes an output
# current). The grid and settings come from the package (transferability.grid), the paths
# and keys from transferability_runtime/plan.py, so the tests use the same definitions.

import json
import os
import shlex
import sys
import time

from transferability import grid, layers, records
from transferability.atomic import write_text
from transferability.data import sources
from transferability.errors import PipelineError
from transferability_runtime import configcheck, partition_check, plan, runcheck, steps

# "results" unless the config says otherwise; `./results` or an absolute path to the same
# folder is written as "results", so Snakemake's metadata is found under either spelling.
RESULTS = os.path.normpath(config["results"])
if os.path.isabs(RESULTS) and not os.path.relpath(RESULTS).startswith(".."):
    RESULTS = os.path.relpath(RESULTS)
PATHS = plan.output_paths(config, RESULTS)
DATA_CACHE = PATHS["cache"]
SPLIT_FILE = PATHS["split"]
BASE_DIR = PATHS["base"]
CELL_DIR = PATHS["cell"]
REFERENCE_MODEL, REFERENCE_FEATURES = PATHS["reference"]
DISTANCES = PATHS["distance"]
SUMMARY, SUMMARY_CSV, HISTORY = PATHS["aggregate"]
*FIGURES, CURVES = PATHS["figures"]
(CLAIMS,) = PATHS["claims"]
REPORT_TABLES = PATHS["tables"]
NETS_USED = REPORT_TABLES[-1]
# config/smoke.yaml: the workflow writes its ImageFolder (dataset.generate) to
# <results>/images (rule make_smoke_images), and the run ends with <results>/smoke_report.md
# (smoke_report: true; any run can ask for that file as a target).
GENERATED_ROOT = f"{RESULTS}/images"  # the rule's output, made only where asked for
GENERATED_IMAGES = [PATHS["generated"]] if PATHS["generated"] else []
if GENERATED_IMAGES:
    config["dataset"]["root"] = GENERATED_ROOT
SMOKE_REPORT, DRIVER_CHECK = PATHS["smoke"], PATHS["driver"]
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
# Per-epoch training state (not a rule output, so a failed job's state survives).
RESUME = f"{RESULTS}/resume"

# Every step is `python -m transferability STEP` or `python -m transferability_runtime
# STEP` (step_command below): the packages' folder goes on PYTHONPATH, quoted once here (a
# clone's path may contain spaces).
# The prefix is formatted like a shell command, hence the doubled braces.
_package_path = shlex.quote(PACKAGE_ROOT).replace("{", "{{").replace("}", "}}")
shell.prefix(
    "set -euo pipefail; export PYTHONPATH="
    + _package_path
    + "${{PYTHONPATH:+:$PYTHONPATH}}; "
)

# config `device` reaches every job (local, shared process or SLURM: each job reads the
# Snakefile again) through the environment, as TRANSFERABILITY_DEVICE; one set there wins.
if config["device"] != "auto":
    os.environ.setdefault("TRANSFERABILITY_DEVICE", config["device"])

# What a training job asks a cluster for: one GPU. A resource of the rules themselves,
# so it holds under any profile (and `gres` a string, not `gpu: 1`: Snakemake adds numbers
# up over the cells of a group job, and a group of cells shares one GPU). Which
# partition training jobs go to is the user's, in slurm/config.yaml.
GPU_GRES = "gpu:1"

try:
    grid.validate(config, cache_exists=Path(DATA_CACHE).exists())
except PipelineError as e:
    raise WorkflowError(f"config: {e}") from None

if workflow.is_main_process:
    problems = list(runcheck.start_problems(workflow.basedir))
    repo = Path(workflow.basedir)
    problems += filter(None, [configcheck.results_problem(RESULTS, repo)])
    if problems:
        raise WorkflowError("\n".join(problems))


wildcard_constraints:
    split=r"random\d+|dissimilar",
    half="A|B",
    target="A|B",
    treatment="|".join(grid.TREATMENTS),
    n="|".join(map(str, layers.CHOP_LAYERS)),
    seed=r"\d+",
    key=r"[0-9a-f]{16}",
    i=r"\d+",


RUN_STARTED = time.time()


def print_job_errors():
    """When a run fails: each failed job's one-line error from its log (the package's
    `error: ...` line), so the reason is on the screen, not only in the log Snakemake names.
    """
    logs = Path(LOGS)
    if not logs.is_dir():
        return
    for log in sorted(logs.rglob("*.log")):
        try:
            if log.stat().st_mtime < RUN_STARTED:
                continue
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("error: "):
                print(f"{log}: {line}", file=sys.stderr)


def settings_json(settings):
    """Settings as one canonical JSON string: what a job's --settings gets."""
    return json.dumps(settings, sort_keys=True)


def code(step):
    """Fingerprint of the code step STEP runs (transferability/provenance.py)."""
    return steps.code_fingerprint(step)


RUNTIME = "transferability_runtime"


class flagged(str):
    """A step_command value that holds its own flag, or nothing where the argument is left
    out (settings_option)."""


def step_command(step, **arguments):
    """A rule's shell command: step STEP (declared in transferability/steps.py, or the
    workflow's own in transferability_runtime/steps.py) with ARGUMENTS in the order given,
    each `dest="{placeholder}"` (dest: the flag without its dashes, `-` as `_`), the log
    last. Unknown and missing arguments stop the Snakefile. A step that runs once per net,
    and the workflow's own steps, go through `python -m transferability_runtime` (the
    warm shared process for the nets); the rest run as `python -m transferability`."""
    if (declared := steps.ALL.get(step)) is None:
        raise WorkflowError(f"no step {step}; the steps: {', '.join(steps.ALL)}")
    if unknown := [a for a in arguments if declared.argument(a) is None]:
        raise WorkflowError(f"step {step}: no argument {unknown} in its declaration")
    required = [a.dest for a in declared.arguments if a.required]
    if missing := [a for a in required if a not in arguments]:
        raise WorkflowError(f"step {step}: the rule gives no {missing}")
    # The other steps need nothing of the runtime (and a command that stays the same
    # reruns no finished job: Snakemake's code trigger compares the text).
    runtime = declared.per_net or step in {s.name for s in steps.STEPS}
    words = [f"python -m {RUNTIME if runtime else 'transferability'} {step}"]
    for dest, value in arguments.items():
        flag = declared.argument(dest).name
        words.append(value if isinstance(value, flagged) else f"--{flag} {value}")
    return " ".join(words) + " > {log:q} 2>&1"


STORED, DATA_INDEX = PATHS["stored"], PATHS["index"]
# Without a store, store_images gets outputs nothing asks for, so it never runs (a rule
# defined under `if` would hide it from the tests that read every rule's block).
STORE, STORE_PIXELS = PATHS["store"], PATHS["pixels"]


# ---------------------------------------------------------------------------- provenance
# Every job's key (transferability_runtime/plan.py) and, at the start of the run, every
# existing output whose record does not match it: such a job gets one more input, a note
# written now (write_notes), so Snakemake reruns it and what is made from it, for any
# target. The records decide, not file times or Snakemake's metadata: the same holds after
# `rm -rf .snakemake`, and a dry run shows exactly what a run would remake.
# The dataset's files are hashed once, then known by size, mtime, ctime and inode: that
# cache is Snakemake's folder's (deleting it costs one hashing of the sources).
SOURCE_DIGESTS = f".snakemake/transferability/{config['dataset']['name']}.sources.json"
PLAN = plan.Plan(
    config,
    PATHS,
    code,
    (
        sources.source_digest(
            config["dataset"],
            Path(SOURCE_DIGESTS) if workflow.is_main_process else None,
        )
        if not GENERATED_IMAGES
        else "generated"
    ),
)
EXPECTED = PLAN.expected()
# Only the main process decides (a cluster job reads the Snakefile again to run one job).
STALE = plan.stale(EXPECTED) if workflow.is_main_process else {}
STALE_DIR = f"{RESULTS}/.stale"
if STALE:
    first, why = next(iter(STALE.items()))
    print(
        f"provenance: {len(STALE)} existing outputs are not what the config and code make "
        f"now, e.g. {first}: {why}. A run of the default target remakes them (and what is "
        "made from them); a run for other targets only where it needs them, and a step "
        "refuses a stale input it reads",
        file=sys.stderr,
    )


def future_dated(paths):
    """Those of PATHS dated after now (a clock skewed between hosts sharing results/)."""
    now = time.time()
    return [p for p in paths if Path(p).exists() and Path(p).stat().st_mtime > now]


def write_notes(stale):
    """One note per stale job, written now, which the job takes as an input: newer than
    its outputs, so Snakemake reruns it whichever target asked for it (its own outputs or
    one made from them). The note says why; the time in it keeps its content new, as
    Snakemake compares an input's checksum too. Notes of jobs no longer stale go."""
    notes = {}
    for path, why in stale.items():
        notes.setdefault(EXPECTED[path], []).append(f"{path}: {why}")
    folder = Path(STALE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file() and old.name not in notes:
            old.unlink()
    for key, why in notes.items():
        write_text(folder / key, "\n".join([*why, f"(noted {time.time_ns()})", ""]))
    return {key: f"{STALE_DIR}/{key}" for key in notes}


if ahead := future_dated(STALE):
    raise WorkflowError(
        f"{ahead[0]} (and {len(ahead) - 1} more) is not what the config and code make now "
        f"({STALE[ahead[0]]}) and is dated in the future (a clock skewed between hosts "
        "sharing results/?), so Snakemake would keep it: delete it (nothing the config "
        "makes is lost) and run again"
    )
STALE_NOTES = write_notes(STALE) if workflow.is_main_process else {}


def filled(value, wildcards):
    """An input's path(s) for one job: a pattern, a list of them or a function."""
    if callable(value):
        return value(wildcards)
    if isinstance(value, str):
        return value.format(**wildcards)
    return [path.format(**wildcards) for path in value]


def made_from(*outputs, **inputs):
    """A rule's named inputs (`unpack` it), for the job making OUTPUTS (patterns). Each is
    `ancient`: file times decide nothing. A job whose existing output is stale gets its
    note (write_notes) and its inputs plain instead, as Snakemake does not judge a job
    below one that reruns and reaches it only through inputs that are not ancient. An
    input is a pattern, a list of paths or a function of the wildcards."""

    def given(wildcards):
        paths = {name: filled(value, wildcards) for name, value in inputs.items()}
        for pattern in outputs:
            if (path := pattern.format(**wildcards)) in STALE:
                return paths | {"stale": STALE_NOTES[EXPECTED[path]]}
        return {name: ancient(value) for name, value in paths.items()}

    return given


def provenance(step):
    """The params function of a job's --provenance: its key, the fingerprint of the code
    of STEP, the key each input must have, its outputs. The metrics files of a whole grid
    (the aggregate's input `metrics`) go as one digest of their keys."""

    def given(wildcards, input, output):
        own = EXPECTED.get(output[0])
        if own is None:  # a net outside the config's grid, asked for by its path
            own = net_key(wildcards)
        job = {"key": own, "code": code(step), "outputs": list(output)}
        listed = set(input.metrics) if "metrics" in input.keys() else set()
        if listed:
            expected = {p: EXPECTED.get(p) for p in input.metrics}
            job |= {
                "inputs_from": "metrics",
                "inputs_digest": records.keys_digest(expected),
            }
        job["inputs"] = {
            p: EXPECTED.get(p)
            for p in input
            if p not in listed and not p.startswith(STALE_DIR)
        }
        return shlex.quote(json.dumps(job, sort_keys=True))

    return given


def net_key(wc):
    if "treatment" in wc.keys():
        return PLAN.cell(wc.split, wc.target, wc.treatment, int(wc.n), int(wc.seed))
    if "half" in wc.keys():
        return PLAN.base(wc.split, wc.half, int(wc.seed))
    return PLAN.split(wc.split)


REFERENCE_SETTINGS = settings_json(grid.reference_settings(config))
REFERENCE_SEED = grid.reference_seed(config)


# Resolved once per treatment, not once per job: a paper-scale DAG has thousands of cells.
TRAIN_SETTINGS = {
    t: settings_json(grid.train_settings(config, t)) for t in ("base", *grid.TREATMENTS)
}


def res(kind, key):
    return config["resources"][kind][key]


def resources(kind, gpu=False):
    """A rule's resources, one definition: memory and runtime of its kind of job from the
    config (`resources.<kind>`), and one GPU for a training job."""
    given = {"mem_mb": res(kind, "mem_mb"), "runtime": res(kind, "runtime")}
    return given | ({"gres": GPU_GRES} if gpu else {})


def base_metrics():
    return [f"{BASE_DIR}/metrics.json".format(**vars(b)) for b in grid.bases(config)]


def cell_metrics():
    return [f"{CELL_DIR}/metrics.json".format(**vars(c)) for c in grid.cells(config)]


def training_records():
    """What every training job records of where it ran: each net's metrics and the
    reference net's record (the smoke report reads them all)."""
    return [*base_metrics(), *cell_metrics(), REFERENCE_FEATURES]


def base_models():
    return [f"{BASE_DIR}/model.pt".format(**vars(b)) for b in grid.bases(config)]


def split_files():
    return [SPLIT_FILE.format(split=s) for s in grid.split_names(config)]


def kept_outputs():
    """Every net's files and every split file, inputs of `all`: Snakemake remakes a missing
    file only when a job that runs needs it, so a file deleted after a complete run (a
    base checkpoint, a split file, a metrics file) would otherwise never be made again
    while the tables kept citing it. As inputs of the default target, a missing one is
    made again, and everything trained on it (its cells, the tables) with it."""
    return [*split_files(), *base_models(), *base_metrics(), *cell_metrics()]


def cell_base(wildcards):
    """The checkpoint a cell copies its first n layers from (none for random)."""
    source = grid.source_half(wildcards.treatment, wildcards.target)
    if source == "none":
        return []
    return f"{BASE_DIR}/model.pt".format(
        split=wildcards.split, half=source, seed=wildcards.seed
    )


def cell_group(wildcards):
    """Cluster jobs: a default cell trains in seconds, so cells form the group `cells`,
    of which the workflow profile (`group-components: cells=N`) puts N in one SLURM job.
    Paper-scale configs set cluster.group_cells: false, one job per cell. Local runs
    ignore groups."""
    return "cells" if config["cluster"]["group_cells"] else None


# Only a real run (not -n) on SLURM: a controller that answers, asked once before any job
# (Snakemake knows its executor only after the Snakefile is read, so this is a hook).
onstart:
    plugin = workflow.executor_plugin
    if plugin is not None and plugin.name == "slurm":
        problem = (
            runcheck.slurm_problem()
            or partition_check.settings_partition_problem(
                workflow.resource_settings
            )
        )
        if problem:
            raise WorkflowError(problem)
