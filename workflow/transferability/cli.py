"""The command line, one step per workflow rule: `python -m transferability STEP ...`.

Each step, its arguments and the function that runs it are declared once, in steps.py;
the parser is built from that table. The step runs in this process (the workflow runs its
training steps through transferability_runtime, which may hand them to a warm shared
process instead; this package knows nothing of that).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import records
from .errors import PipelineError
from .settings_check import check_settings
from .steps import COMMON, STEPS, Step

PROG = "python -m transferability"


def parser(
    steps: Sequence[Step] = STEPS, prog: str = PROG, description: str | None = __doc__
) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    sub = p.add_subparsers(dest="step", required=True)
    for step in steps:
        sp = sub.add_parser(step.name)
        sp.set_defaults(func=step.run)
        for argument in (*COMMON, *step.arguments):
            argument.add_to(sp)
    return p


def main(argv=None) -> int:
    return run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the step the parsed arguments name: its exit status. With `--provenance`, its
    inputs' records are checked first and its outputs recorded after it succeeded."""
    try:
        check_settings(args.step, args.settings)
        args.provenance = job = records.job(args.step, args.provenance)
        if job:
            job.check_inputs(args)
        status = args.func(args) or 0
        if job and status == 0:
            job.record()
        return status
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
