"""The workflow's own steps, beside the experiment's (transferability/steps.py) and declared
the same way: the smoke run's images and report. `main` runs any step of either table, as
`python -m transferability_runtime STEP ...`; `code_fingerprint` is the fingerprint of any
step's code (the rules' `code` params).
"""

from __future__ import annotations

import sys
from pathlib import Path

from transferability import cli, provenance
from transferability.steps import STEPS as EXPERIMENT_STEPS
from transferability.steps import Arg, Step, optional

PROG = "python -m transferability_runtime"


def make_images(args) -> None:
    import shutil

    from .smoke_images import write_images

    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write_images(args.settings, tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"wrote {out}: {args.settings['classes']} classes of JPEGs")


def driver_check(args) -> None:
    import json
    import socket

    from transferability.atomic import write_text

    from . import driver_check as check

    driver = check.query_driver()
    found = {"host": socket.gethostname(), "driver": driver, "env": check.ENVS[0].path}
    found["advice"] = check.advice(driver) if driver else check.NO_DRIVER
    found["runs"] = driver is None or check.runs(found["advice"])
    write_text(args.out, json.dumps(found, indent=1, sort_keys=True))
    print(found["advice"])


def smoke_report(args) -> int:
    from .smoke_report import NOT_GOOD, write_report

    # The report sits in the run's results folder (<results>/smoke_report.md).
    if write_report(args.metrics, Path(args.out).parent, args.out, driver=args.driver):
        return 0
    print(f"{NOT_GOOD}: the report above says why", file=sys.stderr)
    return 1


STEPS: tuple[Step, ...] = (
    Step("make-images", make_images, (Arg("out"),), ("smoke_images",)),
    Step("driver-check", driver_check, (Arg("out"),), ("driver_check",)),
    Step(
        "smoke-report",
        smoke_report,
        (Arg("metrics", nargs="+"), optional("driver"), Arg("out")),
        ("smoke_report",),
    ),
)
# Every step a rule can run, by name.
ALL: dict[str, Step] = {step.name: step for step in (*EXPERIMENT_STEPS, *STEPS)}
CODE = provenance.Code(
    Path(__file__).resolve().parent,
    {s.name: s.modules for s in STEPS},
    {s.name: s.run.__name__ for s in STEPS},
)


def code_fingerprint(step: str) -> str:
    """The fingerprint of the code any step runs (provenance.py)."""
    if step in provenance.CODE.step_modules:
        return provenance.code_fingerprint(step)
    return CODE.code_fingerprint(step)


DESCRIPTION = """`python -m transferability_runtime STEP ...`, the training rules' command:
any step of the experiment, as `python -m transferability STEP ...` runs it (a training
step in the shared warm process where there is one), and the workflow's own steps."""


def parser():
    return cli.parser(tuple(ALL.values()), PROG, DESCRIPTION)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return cli.run(args)
