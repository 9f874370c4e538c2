# Settings files (transferability/jobsettings.py): each job's resolved settings and code
# fingerprint, and for a net the identity of its inputs, in a file that is an input of the
# job. Written here, when the Snakefile is read by a call that runs jobs, and only where
# the content changed: Snakemake's modification-time rule then reruns exactly the jobs
# whose settings changed, with or without its metadata in .snakemake/.

from types import SimpleNamespace

from transferability import jobsettings

SETTINGS = f"{RESULTS}/settings"
BASE_SETTINGS = f"{SETTINGS}/base/{{split}}/{{half}}/seed{{seed}}.json"
CELL_SETTINGS = (
    f"{SETTINGS}/cells/{{split}}/{{target}}/{{treatment}}/n{{n}}/seed{{seed}}.json"
)
SPLIT_SETTINGS = f"{SETTINGS}/splits/{{split}}.json"
# Every net's settings, keyed by its metrics file: what the aggregate step checks against.
NETS_SETTINGS = f"{SETTINGS}/nets.json"


def step_settings(rule):
    return f"{SETTINGS}/{rule}.json"


def settings_input(pattern, content=None):
    """A job's settings file as its input. A call that runs no jobs (a dry run) writes no
    file, so a file not written yet is left out rather than reported missing. A net or
    split outside the config's grid, asked for by its path, gets its file here."""

    def given(wildcards):
        path = pattern.format(**wildcards)
        if RUNS_JOBS and content is not None and not Path(path).exists():
            jobsettings.sync(path, content(wildcards), [])
        return path if RUNS_JOBS or Path(path).exists() else []

    return given


def settings_option(name, flag):
    """`FLAG FILE` for the input NAME (a settings file), or nothing where it is left out."""
    return lambda wc, input: (
        f"{flag} {shlex.quote(input[name])}" if input.get(name) else ""
    )


NETS = jobsettings.NetSettings(config, code)


def base_content(wc):
    return NETS.base(wc.split, wc.half, int(wc.seed))


def cell_content(wc):
    return NETS.cell(wc.split, wc.target, wc.treatment, int(wc.n), int(wc.seed))


def split_content(wc):
    return {
        "settings": settings_json(grid.split_settings(config, wc.split)),
        "code": code("make-split"),
    }


def settings_files():
    """(settings file, content, the outputs it describes, their metrics file or None)."""
    files, manifest = [], {}
    for b in grid.bases(config):
        content = NETS.base(b.split, b.half, b.seed)
        out = BASE_DIR.format(**vars(b))
        metrics = f"{out}/metrics.json"
        manifest[metrics] = content
        outputs = [f"{out}/model.pt", metrics]
        files.append((BASE_SETTINGS.format(**vars(b)), content, outputs, metrics))
    for c in grid.cells(config):
        content = NETS.cell(c.split, c.target, c.treatment, c.n, c.seed)
        metrics = f"{CELL_DIR}/metrics.json".format(**vars(c))
        manifest[metrics] = content
        files.append((CELL_SETTINGS.format(**vars(c)), content, [metrics], metrics))
    files.append((NETS_SETTINGS, {"nets": manifest}, [SUMMARY], None))
    steps = {
        "prepare_data": (
            {
                "settings": settings_json(config["dataset"]),
                "raw": RAW_FINGERPRINT,
                "code": code("prepare-data"),
            },
            [DATA_CACHE],
        ),
        "aggregate": ({"code": code("aggregate")}, [SUMMARY, SUMMARY_CSV, HISTORY]),
        "figures": (
            {"settings": settings_json(config["plots"]), "code": code("figures")},
            [*FIGURES, CURVES],
        ),
        "claims": ({"code": code("claims")}, [CLAIMS]),
        "tables": ({"code": code("tables")}, REPORT_TABLES),
        "smoke_report": ({"code": code("smoke-report")}, [SMOKE_REPORT]),
    }
    if GENERATED_IMAGES:
        generate = settings_json(config["dataset"].get("generate") or {})
        steps["make_smoke_images"] = (
            {"settings": generate, "code": code("make-images")},
            [GENERATED_ROOT],
        )
    for rule, (content, outputs) in steps.items():
        files.append((step_settings(rule), content, outputs, None))
    for split in grid.split_names(config):
        content = split_content(SimpleNamespace(split=split))
        path = SPLIT_SETTINGS.format(split=split)
        files.append((path, content, [SPLIT_FILE.format(split=split)], None))
    return files


if RUNS_JOBS:
    for path, content, outputs, metrics in settings_files():
        recorded = (lambda m=metrics: jobsettings.recorded_key(m)) if metrics else None
        jobsettings.sync(path, content, outputs, recorded)
elif (
    workflow.is_main_process
    and runcheck.is_dry_run(sys.argv)
    and Path(SETTINGS).is_dir()
):
    if changed := [f[0] for f in settings_files() if jobsettings.differs(f[0], f[1])]:
        print(
            f"Note: the settings of {len(changed)} jobs differ from their settings files "
            f"(e.g. {changed[0]}): a real run reruns them, and what depends on them, even "
            "where the jobs listed here do not show it (Snakemake's metadata missing).",
            file=sys.stderr,
        )
