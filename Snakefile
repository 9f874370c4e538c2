# Yosinski et al. 2014, "How transferable are features in deep neural networks?"
# Entry point: config, its validation, the rules, and the targets of a full run.

import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: Path(workflow.basedir) / "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")

# The rules' Python package lives in workflow/; the Snakefile only needs its
# torch-free parts (config checks, grid enumeration).
PACKAGE_ROOT = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, PACKAGE_ROOT)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    input:
        SUMMARY,
        SUMMARY_CSV,
        FIGURES,
        CLAIMS,
    default_target: True
