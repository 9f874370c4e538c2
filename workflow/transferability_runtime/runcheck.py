"""Checks at the start of a run for what Snakemake would not say, or say misleadingly.

Called by workflow/rules/common.smk in Snakemake's main process. Standard library only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


def start_problems(argv: list[str], basedir: str, here: str, dryrun: bool) -> Iterator[str]:
    """One line per problem with this run, naming the fix."""
    # Snakemake formats each rule's conda: path, made absolute, with the job's wildcards.
    if "{" in basedir or "}" in basedir:
        yield (
            f"the workflow's folder {basedir} has braces in its path, which Snakemake reads "
            "as wildcards (in the rules' conda: paths); clone or move it to a path without { }"
        )
    # `--configfile a.yaml --configfile b.yaml`: argparse keeps the last, a.yaml is ignored.
    if argv and os.path.basename(argv[0]) in ("snakemake", "__main__.py"):
        given = [a for a in argv[1:] if a.split("=")[0].startswith("--configf")]
        if len(given) > 1:
            yield (
                "--configfile is given more than once and Snakemake keeps only the last one; "
                "give the files to one --configfile, later ones overriding earlier ones: "
                "--configfile a.yaml b.yaml"
            )
    # The dry-run flag from argv too: Snakemake knows its executor only after the parse.
    dryrun = dryrun or any(
        a in ("--dry-run", "--dryrun") or re.fullmatch(r"-\w*n\w*", a) for a in argv[1:]
    )
    if not dryrun and (other := other_snakemake(here)):
        yield (
            f"another snakemake (pid {other}) is running in {here} and holds its lock: wait "
            f"for it to finish, or stop it (Ctrl-C in its terminal, or kill {other}) and then "
            "rerun with --rerun-incomplete; while it runs, --unlock and --rerun-incomplete "
            "would only fight it over its outputs"
        )


def _is_snakemake(cmdline: list[str]) -> bool:
    """`snakemake ...`, `python .../bin/snakemake ...` or `python -m snakemake ...`."""
    names = [os.path.basename(a) for a in cmdline[:3]]
    return "snakemake" in names[:2] or cmdline[1:3] == ["-m", "snakemake"]


def other_snakemake(here: str | Path) -> int | None:
    """The pid of another snakemake that runs in the folder `here` and holds a lock there
    (Linux; None elsewhere or when there is none)."""
    locks = Path(here) / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()):
        return None
    mine, pid = set(), os.getpid()
    while pid > 1 and pid not in mine:  # this process and its ancestors
        mine.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    here = os.path.realpath(here)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in mine:
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if _is_snakemake(cmdline) and os.readlink(proc / "cwd") == here:
                return int(proc.name)
        except OSError:
            continue
    return None


# Flags after which snakemake only reads: no job runs, nothing under results/ is written.
READ_ONLY = (
    "--lint", "--list", "-l", "--list-target-rules", "--lt", "--summary", "-S",
    "--detailed-summary", "-D", "--dag", "--rulegraph", "--filegraph", "--d3dag",
    "--report", "--containerize", "--export-cwl", "--print-compilation", "--archive",
    "--cleanup-metadata", "--cm", "--list-changes", "--lc", "--list-code-changes",
    "--list-params-changes", "--list-input-changes", "--version", "-v", "--help", "-h",
    "--unlock", "--delete-all-output", "--delete-temp-output", "--conda-create-envs-only",
)  # fmt: skip


def is_dry_run(argv: list[str], flag: bool = False) -> bool:
    return flag or any(
        a in ("--dry-run", "--dryrun") or re.fullmatch(r"-\w*n\w*", a) for a in argv[1:]
    )


def runs_jobs(argv: list[str], dryrun: bool = False) -> bool:
    """Whether this snakemake call may run jobs and write results (not -n, --lint, ...)."""
    read_only = any(a.split("=")[0] in READ_ONLY for a in argv[1:])
    return not is_dry_run(argv, dryrun) and not read_only


def results_problem(results: str) -> str | None:
    if os.path.lexists(results) and not os.path.isdir(results):
        return (
            f"results: {results} is a file, not a folder; move the file away or set "
            "`results:` in your config to a folder"
        )
    return None


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
