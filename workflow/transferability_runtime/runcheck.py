"""Checks at the start of a run for what Snakemake would not say, or say misleadingly.

Called by workflow/rules/common.smk in Snakemake's main process. Standard library only.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator


def start_problems(basedir: str) -> Iterator[str]:
    """One line per problem with this run, naming the fix."""
    # Snakemake formats each rule's conda: path, made absolute, with the job's wildcards.
    if "{" in basedir or "}" in basedir:
        yield (
            f"the workflow's folder {basedir} has braces in its path, which Snakemake reads "
            "as wildcards (in the rules' conda: paths); clone or move it to a path without { }"
        )


PING_SECONDS = 15


def slurm_problem() -> str | None:
    """A SLURM run needs a controller that answers; without one the executor plugin runs
    the local rules and then repeats sinfo/sacct errors for a minute. Asked once, here."""
    fix = "run from a SLURM login node, or run locally with --cores N instead"
    if shutil.which("scontrol") is None:
        return f"--profile slurm / --executor slurm: no SLURM here (scontrol not found); {fix}"
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, timeout=PING_SECONDS
        )
    except subprocess.TimeoutExpired:
        ping = None
    said = " ".join(((ping.stdout + ping.stderr) if ping else "no answer").split())[:200]
    if ping is None or ping.returncode != 0 or "UP" not in ping.stdout:
        return (
            f"--profile slurm / --executor slurm: no SLURM controller answers "
            f"(scontrol ping: {said or 'no output'}); {fix}"
        )
    return None
