"""One trained net per call: a base net, or a transfer cell built from one.

Each function takes the resolved settings of exactly that net and writes its
metrics (and, for base nets, its weights) atomically.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch

from .. import jobinfo, records
from ..atomic import torch_save, write_text
from ..data.halves import load_half
from ..data.splits import read_split
from ..errors import ConfigError, DataError, load_failure
from ..treatments import CAFFE, COPIED, source_half
from ..treatments import get as get_treatment
from . import device as devices
from . import models
from .resume_state import ResumeState, one_writer
from .sgd import Recipe
from .solver import derived_seed, train


def _net(settings: dict, num_classes: int) -> models.TransferNet:
    model = settings["model"]
    return models.TransferNet(
        model["layout"], num_classes, model.get("in_channels", 1), model.get("widths")
    )


def check_fits(settings: dict, data: dict, cache) -> None:
    """The configured net must take the data's images: said before training, naming the
    config keys, not as a shape error from deep inside torch."""
    x = data["train"][0]
    if not isinstance(x, torch.Tensor):  # streamed (ImageFolder): cropped to the layout
        return
    model = settings["model"]
    layout, channels = model["layout"], model.get("in_channels", 1)
    if layout not in models.LAYOUTS:
        return  # TransferNet names the unknown layout
    side = models.LAYOUTS[layout]["image_side"]
    actual = tuple(x.shape[1:])
    if actual == (channels, side, side):
        return
    fitting = sorted(n for n, spec in models.LAYOUTS.items() if spec["image_side"] == actual[-1])
    raise ConfigError(
        f"model.layout/model.in_channels: layout {layout!r} with in_channels {channels} takes "
        f"images of shape {(channels, side, side)} (channels, height, width), but {cache} "
        f"holds images of shape {actual}; set model.in_channels: {actual[0]} and a "
        f"model.layout for {actual[-1]}-px images ({fitting or 'none known'})"
    )


def _data(settings: dict, cache, split_path, split: str, half: str) -> tuple[dict, dict]:
    """The split file and the half's images, checked against each other and against the net
    before anything trains."""
    split_record = read_split(split_path)
    data = load_half(
        cache,
        split_record["halves"][half],
        record=split_record,
        split_path=split_path,
        split=split,
        feed=settings.get("feed"),
    )
    check_fits(settings, data, cache)
    return split_record, data


def _environment(threads: int, job, device: str) -> dict:
    code = job.code if job is not None else None  # run by hand: no fingerprint to record
    return {"device": device, "threads": threads, "code_fingerprint": code, **jobinfo.software()}


def write_metrics(record: dict, path: str | Path) -> None:
    write_text(path, json.dumps(record, indent=1, sort_keys=True))


def identity(split: str, half: str, seed: int, settings: dict) -> dict:
    """What a base checkpoint says it is: a file copied over another net's is caught by
    the cells that load it (its record, records.py, says whether it is current)."""
    return {
        "split": split,
        "half": half,
        "seed": seed,
        "treatment": "base",
        "n": 0,
        "settings": records.digest(settings),
    }


def load_checkpoint(path: str | Path, split: str, half: str, seed: int) -> dict:
    """The weights of base net split/half/seed from `path`, refused if the file is another
    net's."""
    try:
        checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # a truncated zip, a foreign pickle, ...: all mean "remake it"
        raise DataError(
            f"{path}: cannot load the base-net checkpoint ({load_failure(e)}); "
            "delete it so it is retrained"
        ) from e
    said = checkpoint.get("identity") if isinstance(checkpoint, dict) else None
    if not isinstance(said, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise DataError(
            f"{path}: the checkpoint does not say which net it is (made by older code or "
            "not by this workflow); delete it so it is retrained"
        )
    wanted = f"{split}/{half} seed {seed}"
    found = f"{said.get('split')}/{said.get('half')} seed {said.get('seed')}"
    if found != wanted or said.get("treatment") != "base":
        raise DataError(
            f"{path}: this checkpoint is base net {found}, not {wanted} as its path says "
            "(copied or moved there); delete it so it is retrained"
        )
    return checkpoint["state_dict"]


def _record(
    split_record, *, split, target, source, treatment, n, seed, outcome, settings, threads, job
):
    # What was measured, not what it means: a net's status is judged at aggregation
    # (analysis/results_table.py), where changing the rule costs seconds.
    chance = 1.0 / len(split_record["halves"][target]["class_indices"])
    return {
        "split": split,
        "split_kind": split_record["kind"],
        "target": target,
        "source": source,
        "treatment": treatment,
        "n": n,
        "seed": seed,
        "top1": outcome.top1,
        "val_top1": outcome.val_top1,
        "best_epoch": outcome.best_epoch,
        "epochs": outcome.epochs_run,
        "diverged": outcome.diverged,
        "final_loss": outcome.final_loss,
        "train_seconds": outcome.train_seconds,
        "chance": chance,
        "classes": split_record["halves"][target]["classes"],
        "history": outcome.history,
        "settings": settings,
        "resumed_from_epoch": outcome.resumed_from_epoch,
        # Training images/s of the net: train_images * epochs / train_seconds.
        "train_images": len(split_record["halves"][target]["train_idx"]),
        **jobinfo.record(outcome.device, settings["recipe"].get("precision", "fp32")),
        **_environment(threads, job, outcome.device),
    }


def _resume(path, settings, n_frozen: int, inputs: list, step: str, job) -> ResumeState | None:
    """The per-epoch state file, keyed by everything the run depends on: the net's job key
    (its identity, settings, code and inputs' keys) and its inputs' content as checked, so
    another net's state, or one saved before an input was remade, is never resumed. Run by
    hand (no provenance): the step, settings, frozen layers and the inputs' content."""
    if path is None:
        return None
    if job is not None:
        contents = [job.input_digest(p) for p in inputs if p]
        key = json.dumps([job.key, contents], sort_keys=True)
    else:
        contents = [records.content_digest(p) for p in inputs if p]
        key = json.dumps([step, settings, n_frozen, contents], sort_keys=True)
    return ResumeState(path, key)


def _train_base(
    *,
    cache,
    split_file,
    split,
    half,
    seed,
    settings,
    threads,
    out_model,
    out_metrics,
    resume_state=None,
    provenance=None,
):
    devices.pick()  # a job given a GPU that torch cannot use stops here, before any work
    torch.set_num_threads(threads)
    split_record, data = _data(settings, cache, split_file, split, half)
    num_classes = len(split_record["halves"][half]["class_indices"])
    net_seed = derived_seed(split, half, "base", seed)
    torch.manual_seed(net_seed)
    net = _net(settings, num_classes).to(memory_format=torch.channels_last)
    state = _resume(resume_state, settings, 0, [cache, split_file], "train-base", provenance)
    recipe = Recipe.from_config(settings["recipe"])
    outcome, diagnostics = train(net, data, recipe, 0, net_seed, resume=state)
    record = _record(
        split_record,
        split=split,
        target=half,
        source=half,
        treatment="base",
        n=0,
        seed=seed,
        outcome=outcome,
        settings=settings,
        threads=threads,
        job=provenance,
    )
    checkpoint = {"identity": identity(split, half, seed, settings)}
    torch_save(checkpoint | {"state_dict": net.to("cpu").state_dict()}, out_model)
    write_metrics(record | diagnostics, out_metrics)
    if state:
        state.clear()
    return record


def _train_cell(
    *,
    cache,
    split_file,
    split,
    target,
    treatment,
    n,
    seed,
    base,
    settings,
    threads,
    out_metrics,
    resume_state=None,
    provenance=None,
):
    """BnB/AnB (frozen), BnB+/AnB+ (fine-tuned) or random-frozen, chopped at layer n."""
    devices.pick()
    torch.set_num_threads(threads)
    spec = get_treatment(treatment)  # what it copies and freezes: treatments.REGISTRY
    source = source_half(treatment, target)
    split_record, data = _data(settings, cache, split_file, split, target)
    num_classes = len(split_record["halves"][target]["class_indices"])
    net_seed = derived_seed(split, target, treatment, n, seed)
    torch.manual_seed(net_seed)
    net = _net(settings, num_classes)
    if spec.prefix == COPIED:
        state = load_checkpoint(base, split, source, seed)
        models.check_compatible(net, state, n, str(base))
        models.transplant(net, state, n)
    elif spec.init == CAFFE:
        models.init_caffe(net, n)
    net = net.to(memory_format=torch.channels_last)
    frozen = spec.frozen_layers(n)
    state = _resume(
        resume_state, settings, frozen, [cache, split_file, base], "train-cell", provenance
    )
    recipe = Recipe.from_config(settings["recipe"])
    outcome, diagnostics = train(net, data, recipe, frozen, net_seed, resume=state)
    record = _record(
        split_record,
        split=split,
        target=target,
        source=source,
        treatment=treatment,
        n=n,
        seed=seed,
        outcome=outcome,
        settings=settings,
        threads=threads,
        job=provenance,
    )
    write_metrics(record | diagnostics, out_metrics)
    if state:
        state.clear()
    return record


def _fenced(train):
    """One writer per net: the job holds the lock beside its resume state while it trains
    (resume_state.one_writer); a job run without a resume state is not fenced."""

    def run(**arguments):
        path = arguments.get("resume_state")
        with one_writer(path) if path else contextlib.nullcontext():
            return train(**arguments)

    run.__doc__, run.__name__ = train.__doc__, train.__name__.lstrip("_")
    return run


train_base = _fenced(_train_base)
train_cell = _fenced(_train_cell)
