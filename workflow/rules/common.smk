# Paths, the experiment grid and per-job settings. The grid and settings come from the
# package (transferability.grid) so the tests use exactly the same enumeration.

import json
import os
import shlex
import sys
import time

from transferability import grid, layers
from transferability.data import sources
from transferability.errors import PipelineError
from transferability_runtime import profiles, runcheck, runlock, steps

# "results" unless the config says otherwise; `./results` or an absolute path to the same
# folder is written as "results", so Snakemake's metadata is found under either spelling.
RESULTS = os.path.normpath(config["results"])
if os.path.isabs(RESULTS) and not os.path.relpath(RESULTS).startswith(".."):
    RESULTS = os.path.relpath(RESULTS)
DATA_CACHE = f"{RESULTS}/data/{config['dataset']['name']}.pt"
SPLIT_FILE = f"{RESULTS}/splits/{{split}}.json"
BASE_DIR = f"{RESULTS}/base/{{split}}/{{half}}/seed{{seed}}"
CELL_DIR = f"{RESULTS}/cells/{{split}}/{{target}}/{{treatment}}/n{{n}}/seed{{seed}}"
SUMMARY = f"{RESULTS}/summary.parquet"
SUMMARY_CSV = f"{RESULTS}/summary.csv"
HISTORY = f"{RESULTS}/history.parquet"
FIGURES = [f"{RESULTS}/figures/figure2.png", f"{RESULTS}/figures/figure3.png"]
CURVES = f"{RESULTS}/figures/training_curves.png"
CLAIMS = f"{RESULTS}/claims.md"
NETS_USED = f"{RESULTS}/nets_used.csv"
REPORT_TABLES = [
    f"{RESULTS}/report/claims.html",
    f"{RESULTS}/report/summary.html",
    NETS_USED,
]
# config/smoke.yaml: the workflow writes its ImageFolder (dataset.generate) to
# <results>/images (rule make_smoke_images), and the run ends with <results>/smoke_report.md
# (smoke_report: true; any run can ask for that file as a target).
GENERATED_ROOT = f"{RESULTS}/images"
GENERATED_IMAGES = []
if config["dataset"].get("generate"):
    config["dataset"]["root"] = GENERATED_ROOT
    GENERATED_IMAGES = [GENERATED_ROOT]
SMOKE_REPORT = f"{RESULTS}/smoke_report.md"
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
    f"set -euo pipefail; export PYTHONPATH={_package_path}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
)

# config `device` reaches every job (local, shared process or SLURM: each job reads the
# Snakefile again) through the environment, as TRANSFERABILITY_DEVICE; one set there wins.
if config["device"] != "auto":
    os.environ.setdefault("TRANSFERABILITY_DEVICE", config["device"])

# A user's profile setting a top-level key the workflow profile sets too would lose it
# whole, silently (Snakemake merges profiles key by key): stop and say so instead.
if dropped := profiles.dropped_settings(
    sys.argv[1:],
    os.environ,
    Path.cwd(),
    Path.home(),
    Path(workflow.basedir) / "profiles/default",
):
    raise WorkflowError("profiles: " + "\n  ".join(dropped))

# What a training job asks a cluster for: one GPU. A resource of the rules themselves,
# so it holds under any profile (and `gres` a string, not `gpu: 1`: Snakemake adds numbers
# up over the cells of a group job, and a group of cells shares one GPU). Which
# partition training jobs go to is the user's, in slurm/config.yaml.
GPU_GRES = "gpu:1"

try:
    grid.validate(config, cache_exists=Path(DATA_CACHE).exists())
except PipelineError as e:
    raise WorkflowError(f"config: {e}") from None

# The raw files prepare_data reads, by size and modification time: replaced raw data
# remakes the cache (see sources.raw_fingerprint).
RAW_FINGERPRINT = sources.raw_fingerprint(config["dataset"])


# Whether this call runs jobs (not -n, --lint, --unlock, ...): only such a call takes the
# results folder's lock and writes the settings files (settings.smk).
RUNS_JOBS = workflow.is_main_process and runcheck.runs_jobs(
    sys.argv, getattr(workflow, "dryrun", False)
)

if workflow.is_main_process:
    problems = list(
        runcheck.start_problems(
            sys.argv, workflow.basedir, os.getcwd(), getattr(workflow, "dryrun", False)
        )
    )
    problems += filter(None, [runcheck.results_problem(RESULTS)])
    executor = profiles.executor(sys.argv, os.environ, Path.cwd(), Path.home())
    if RUNS_JOBS and executor == "slurm" and not problems:
        problems += filter(None, [runcheck.slurm_problem()])
    if "--unlock" in sys.argv and not problems:
        problems += filter(None, [runlock.unlock(RESULTS)])
    if problems:
        raise WorkflowError("\n".join(problems))
    if RUNS_JOBS:
        try:
            runlock.acquire(RESULTS)
        except runlock.Locked as e:
            raise WorkflowError(str(e)) from None


wildcard_constraints:
    split=r"random\d+|dissimilar",
    half="A|B",
    target="A|B",
    treatment="|".join(grid.TREATMENTS),
    n="|".join(map(str, layers.CHOP_LAYERS)),
    seed=r"\d+",


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
    """Settings as one canonical JSON string: stable for Snakemake's params trigger."""
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


# Resolved once per treatment, not once per job: a paper-scale DAG has thousands of cells.
TRAIN_SETTINGS = {
    t: settings_json(grid.train_settings(config, t)) for t in ("base", *grid.TREATMENTS)
}


def res(kind, key):
    return config["resources"][kind][key]


def base_metrics():
    return [f"{BASE_DIR}/metrics.json".format(**vars(b)) for b in grid.bases(config)]


def cell_metrics():
    return [f"{CELL_DIR}/metrics.json".format(**vars(c)) for c in grid.cells(config)]


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
