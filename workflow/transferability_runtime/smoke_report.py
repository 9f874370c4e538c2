"""The smoke run's report (config/smoke.yaml; its images: smoke_images.py): a few minutes
that tell a cluster user whether the set-up works before the paper's grid is launched.

`report` reads every training job's metrics (jobinfo.py), the reference net's record
(reference_net.json) among them, and writes a short Markdown
report: where each job ran, on which device, with which torch and CUDA, whether bf16
autocast was on, images per second, and what went wrong with the fix. A training job
that was given a GPU but trained on the CPU makes the run NOT GOOD (non-zero exit of the
`smoke-report` step). Torch-free: the Snakefile calls it when a run ends.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from transferability import jobinfo
from transferability.atomic import write_text

GOOD, NOT_GOOD = "SMOKE RUN GOOD", "SMOKE RUN NOT GOOD"


def _log_of(metrics: Path, results: Path) -> Path:
    """<results>/cells/<split>/.../seed0/metrics.json -> <results>/logs/train_cell/.../seed0.log"""
    kind, *rest = metrics.parent.relative_to(results).parts
    if kind == "task_distance":  # <results>/task_distance/reference_net.json
        return results / "logs" / "train_reference.log"
    rule = {"base": "train_base", "cells": "train_cell"}[kind]
    return results.joinpath("logs", rule, *rest[:-1], f"{rest[-1]}.log")


def _name(m: dict) -> str:
    if m["treatment"] == "reference":  # the task distance's net on every class
        return f"reference net seed{m['seed']}"
    if m["treatment"] == "base":
        return f"base {m['split']}/{m['target']} seed{m['seed']}"
    return f"{m['treatment']} {m['split']}/{m['target']} n{m['n']} seed{m['seed']}"


def fallback_fix(m: dict) -> str:
    """Why a job given a GPU trained on the CPU, and what to do."""
    given = m.get("gpu_evidence") or "a GPU"
    if m.get("device_forced") == "cpu":
        return (
            "TRANSFERABILITY_DEVICE=cpu forced the CPU: unset it in the shell that runs snakemake"
        )
    if not m.get("torch_cuda_version"):
        return (
            f"the job had {given} but its torch {m.get('torch_version')} is a CPU-only build: "
            "install a CUDA build of torch in the environment the jobs run in (pip's default "
            "Linux wheels, or conda-forge pytorch built with CONDA_OVERRIDE_CUDA set)"
        )
    return (
        f"the job had {given} but torch (CUDA {m['torch_cuda_version']}) saw no GPU on "
        f"{m.get('host')}: run nvidia-smi there in a job; the driver must support CUDA "
        f"{m['torch_cuda_version']}, and CUDA_VISIBLE_DEVICES must name a device the job can open"
    )


def _last_lines(path: Path, count: int = 2) -> str:
    lines = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    return " / ".join(lines[-count:]) or "(empty)"


def report(metrics_paths, results, expected=(), driver=None) -> tuple[str, bool]:
    """The report's Markdown and whether the run is good. `expected`: metrics files the
    run should have made; those missing are failed (or never started) jobs. `driver`: the
    driver check's file (rule check_driver, on a GPU node like a training job)."""
    results = Path(results)
    found, problems, notes = [], [], []
    for path in map(Path, metrics_paths):
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, ValueError) as e:
            problems.append(f"`{path}`: unreadable metrics ({e}); delete it and rerun")
    missing = sorted({str(p) for p in expected} - {str(p) for p, _ in found})
    for path in map(Path, missing):
        log = _log_of(path, results)
        if not log.is_file():
            problems.append(
                f"**not run**: `{path}` (the run stopped first, or a job it needs failed)"
            )
            continue
        problems.append(
            f"**failed**: `{path}`; its log `{log}` ends: {_last_lines(log)}. "
            "Fix what the log names, then run the same command again (finished nets are kept)."
        )
    fell_back = [m for _, m in found if m.get("gpu_requested") and m["device"] == "cpu"]
    for m in fell_back:
        problems.append(
            f"**GPU asked, CPU used**: {_name(m)} on {m.get('host')}: {fallback_fix(m)}"
        )
    on_gpu = [m for _, m in found if m["device"].startswith("cuda")]
    for m in on_gpu:
        if m.get("gpu_capability") and float(m["gpu_capability"]) < 8:
            notes.append(
                f"{_name(m)}: {m['gpu_name']} (compute capability {m['gpu_capability']}) has no "
                "native bf16: autocast emulates it, slowly; prefer Ampere or newer GPUs"
            )
            break
    for m in (m for _, m in found if m.get("resumed_from_epoch")):
        notes.append(
            f"{_name(m)}: resumed after epoch {m['resumed_from_epoch']} (preempted or retried)"
        )
    for m in (m for _, m in found if m.get("diverged")):
        notes.append(f"{_name(m)}: diverged (non-finite loss)")
    under_slurm_no_gpu = [
        m for _, m in found if m.get("slurm_job_id") and not m.get("gpu_requested")
    ]
    if under_slurm_no_gpu:
        notes.append(
            f"{len(under_slurm_no_gpu)} training job(s) ran under SLURM without a GPU "
            "allocation: check `gres: gpu:1` in profiles/default/config.yaml reached sbatch and "
            "that slurm_partition (slurm/config.yaml) is a GPU partition (`sinfo -o '%P %G'`)"
        )
    if found and not any(m.get("gpu_requested") for _, m in found):
        notes.append(
            "no training job was given a GPU: a CPU run (as on a workstation); on a cluster "
            "this means the jobs did not get the GPUs they ask for"
        )
    checked = _driver(driver, problems, notes)
    good = not problems and bool(found)
    given = sum(bool(m.get("gpu_requested")) for _, m in found)
    if not good:
        verdict = f"{NOT_GOOD}: {len(problems)} problem(s) below"
        if fell_back:
            verdict += f"; {len(fell_back)} job(s) were given a GPU but trained on the CPU"
    elif given:
        verdict = (
            f"{GOOD}: {len(found)} training jobs, {len(on_gpu)} on a GPU; "
            f"all {given} given a GPU trained on it"
        )
    else:
        verdict = f"{GOOD}: {len(found)} training jobs, all on the CPU (none was given a GPU)"
    lines = ["# Smoke run report", "", f"**{verdict}**", ""]
    lines += ["## Where each training job ran", ""]
    lines += [
        "| net | node | device | torch | torch's CUDA | GPU given | autocast | images/s "
        "| train s | top-1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, m in sorted(found, key=lambda pm: _name(pm[1])):
        rate = jobinfo.images_per_second(
            m.get("train_images", 0), m.get("epochs", 0), m["train_seconds"]
        )
        lines.append(
            f"| {_name(m)} | {m.get('host')} | {m['device']} | {m.get('torch_version')} "
            f"| {m.get('torch_cuda_version') or 'CPU build'} | {m.get('gpu_evidence') or 'no'} "
            f"| {m.get('autocast', '?')} | {f'{rate:.0f}' if rate else '?'} "
            f"| {m['train_seconds']:.1f} | {m['top1']:.3f} |"
        )
    where = Counter((m.get("host"), m["device"]) for _, m in found)
    lines += ["", "## Summary", ""]
    lines += [
        f"- {host}: {device}, {count} job(s)" for (host, device), count in sorted(where.items())
    ]
    lines += [] if found else ["- no training job finished"]
    if checked:
        lines += ["", "## Driver", "", f"- {checked['host']}: {checked['advice']}"]
    lines += ["", "## Problems", ""] + ([f"- {p}" for p in problems] or ["- none"])
    lines += ["", "## Notes", ""] + ([f"- {n}" for n in notes] or ["- none"])
    lines += ["", f"**{verdict}**", ""]
    return "\n".join(lines), good


def _driver(path, problems: list, notes: list) -> dict | None:
    """The driver check's finding. A driver too old for the training env is the cause
    named first where jobs failed or missed their GPU; where they all trained, the rules
    use another env (envs/train-cu12.yaml) and it is a note."""
    if path is None or not Path(path).is_file():
        if path is not None:
            notes.append(f"no driver check: `{path}` was not made (its job failed or waits)")
        return None
    checked = json.loads(Path(path).read_text())
    if not checked["runs"]:
        line = f"**driver** on {checked['host']}: {checked['advice']}"
        (problems.insert(0, line) if problems else notes.append(line))
    return checked


def write_report(metrics_paths, results, out, expected=(), driver=None) -> bool:
    text, good = report(metrics_paths, results, expected, driver)
    write_text(out, text)
    print(text)
    return good
