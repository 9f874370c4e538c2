# Yosinski et al. 2014, "How transferable are features in deep neural networks?"
# Entry point: config, its validation, the rules, and the targets of a full run.

import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: Path(workflow.basedir) / "config/config.yaml"


# The rules' Python packages live in workflow/: the experiment (transferability) and what
# runs it here (transferability_runtime); the Snakefile only needs their torch-free parts
# (config checks, grid enumeration, the step table).
PACKAGE_ROOT = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, PACKAGE_ROOT)

from transferability_runtime.configcheck import duplicate_keys, schema_problems

CONFIG_SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
CONFIG_FILES = [
    Path(workflow.basedir) / "config/config.yaml",
    *workflow.overwrite_configfiles,
]
if problems := duplicate_keys(CONFIG_FILES) + schema_problems(
    config, CONFIG_SCHEMA, cli_keys=workflow.config_settings.config.keys()
):
    raise WorkflowError("config: " + "\n  ".join(["invalid configuration:", *problems]))
validate(config, str(CONFIG_SCHEMA))  # fills in the schema's defaults


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/smoke.smk"


# Seconds-long steps run where snakemake runs (on a cluster: the submitting node), not
# as SLURM jobs that wait in the queue for longer than they run.
localrules:
    make_split,
    task_distance,
    aggregate,
    figures,
    claims,
    tables,


rule all:
    default_target: True
    input:
        SUMMARY,
        SUMMARY_CSV,
        HISTORY,
        FIGURES,
        CURVES,
        CLAIMS,
        REPORT_TABLES,
        kept_outputs(),
        [SMOKE_REPORT] if config["smoke_report"] else [],
