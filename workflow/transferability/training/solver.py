"""Training a base net or a transfer cell: the loop over epochs and steps, with model
selection on the validation images and the state saved for resuming.

Data lives in memory as one tensor per part (train/val/test); a step indexes a
batch out of it. Frozen leading layers are run once over the whole dataset and
their output cached (see models.deterministic_depth), so a frozen cell with large
n trains only its top.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
import zlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import device as devices
from . import models
from .evaluation import dead_fraction, evaluate, run_stages, top1
from .loss_watch import LossWatch
from .resume_state import ResumeState
from .sgd import MomentumSGD, Recipe

# More dead units than this leaving a frozen prefix means its signal is mostly gone:
# a property of the init scale, not of transfer, so the log says so.
DEAD_WARNING = 0.5


@dataclass
class Outcome:
    top1: float
    val_top1: float
    best_epoch: int
    epochs_run: int
    diverged: bool
    final_loss: float
    train_seconds: float
    history: list[dict] = field(default_factory=list)
    device: str = "cpu"
    resumed_from_epoch: int = 0  # epochs done before this process started (0: fresh)


def derived_seed(*parts) -> int:
    """A stable 31-bit seed from a cell's name (Python's hash() is salted per process)."""
    return zlib.crc32("/".join(map(str, parts)).encode()) & 0x7FFFFFFF


def _batches(x, order: torch.Tensor, batch_size: int, device: torch.device, epoch: int):
    """(positions, images) per step: indexed from a tensor, or read by a streamed dataset."""
    if isinstance(x, torch.Tensor):
        return ((batch, x[batch]) for batch in order.split(batch_size))
    return (
        (batch, xb.to(device, non_blocking=True))
        for batch, xb in x.batches(order, batch_size, epoch=epoch)
    )


@dataclass
class _Progress:
    """What an epoch leaves for the next, and what a resumed run starts from."""

    best_val: float
    best_epoch: int
    best_net: dict
    loss: float = float("nan")
    step: int = 0
    history: list[dict] = field(default_factory=list)
    first_epoch: int = 1
    seconds_before: float = 0.0  # training time of the epochs done before a resume
    diverged: bool = False

    @classmethod
    def start(cls, net: models.TransferNet, saved: dict | None) -> _Progress:
        if not saved:
            return cls(-1.0, 0, copy.deepcopy(net.state_dict()))
        return cls(
            saved["best_val"],
            saved["best_epoch"],
            saved["best_net"],
            loss=saved["loss"],
            step=saved["step"],
            history=saved["history"],
            first_epoch=saved["epoch"] + 1,
            seconds_before=saved["seconds"],
        )


class _Loop:
    """What every step of one net's training shares: the net, where it runs, which of its
    stages are cached, frozen or trained, the solver and the random stream of the order."""

    def __init__(self, net, data: dict, recipe: Recipe, n_frozen: int, device, optimizer, rng):
        self.net, self.recipe, self.n_frozen, self.device = net, recipe, n_frozen, device
        self.optimizer, self.generator = optimizer, rng
        self.streamed = not isinstance(data["train"][0], torch.Tensor)
        # A cached prefix must give the same output every epoch: not so for flipped or
        # streamed (randomly cropped) images, which then run through every stage each step.
        cacheable = not (recipe.augment_flip or self.streamed)
        self.depth = models.deterministic_depth(n_frozen) if cacheable else 0
        self.pending_dropout = self.depth > 0 and not isinstance(
            net.stages[self.depth - 1].dropout, torch.nn.Identity
        )
        self.step_runs_convs = self.depth < models.FIRST_FC
        self.steps_per_epoch = math.ceil(len(data["train"][1]) / recipe.batch_size)
        self.total = recipe.epochs * self.steps_per_epoch

    def autocast(self, convs: bool = True):
        return devices.autocast(self.device, self.recipe.precision, convs)

    def cache_features(self, data: dict, log) -> tuple[dict, dict]:
        """Each part's output of the cached prefix (the images themselves when none)."""
        net, depth = self.net, self.depth
        with self.autocast():
            feats = {
                part: (run_stages(net, x, 0, depth).float() if depth else x, y)
                for part, (x, y) in data.items()
            }
        diagnostics = {"dead_fraction": dead_fraction(feats["train"][0]) if depth else 0.0}
        if diagnostics["dead_fraction"] > DEAD_WARNING:
            log(
                f"warning: {diagnostics['dead_fraction']:.0%} of the units leaving the frozen "
                "layers are zero on every training image"
            )
        if depth >= models.FIRST_FC:  # fc6 takes flat input: flattened once, not every step
            feats = {part: (x.flatten(1), y) for part, (x, y) in feats.items()}
        return feats, diagnostics

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pending_dropout:  # the cache holds the prefix's output before its dropout
            x = self.net.stages[self.depth - 1].dropout(x)
        if self.depth < self.n_frozen:  # frozen stages that run every step: no graph, no gradient
            with torch.no_grad():
                for stage in self.net.stages[self.depth : self.n_frozen]:
                    x = stage(x)
            return self.net(x, start=self.n_frozen)
        return self.net(x, start=self.depth)

    def run_epoch(self, epoch: int, x_train, y_train, progress: _Progress) -> bool:
        """One pass over the training images; False when the loss stopped being finite."""
        recipe, device = self.recipe, self.device
        self.net.train()
        order = torch.randperm(len(y_train), generator=self.generator)
        if device.type != "cpu" and not self.streamed:
            order = order.to(device, non_blocking=True)
        watch = LossWatch(device)
        flips = recipe.augment_flip and not getattr(x_train, "augments_on_device", False)
        epoch_flips = self.epoch_flips(len(order)) if flips and device.type != "cpu" else None
        done = 0
        for batch, xb in _batches(x_train, order, recipe.batch_size, device, epoch):
            if flips:
                if epoch_flips is None:  # the CPU: drawn per step, as it always was
                    flip = torch.rand(len(batch), generator=self.generator).to(device) < 0.5
                else:
                    flip = epoch_flips[done : done + len(batch)]
                done += len(batch)
                xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            with self.autocast(self.step_runs_convs):
                loss = F.cross_entropy(self.forward(xb), y_train[batch])
            if watch.diverged(loss):
                progress.diverged = True
                return False
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step(recipe.lr_at(progress.step, self.total))
            progress.step += 1
        if not watch.finished():
            progress.diverged = True
            return False
        progress.loss = watch.total / self.steps_per_epoch
        return True

    def epoch_flips(self, count: int) -> torch.Tensor:
        """An epoch's mirror draws at once, on the device, for a GPU run: drawn per step,
        each step's copy from pageable memory would make the host wait for the GPU. The
        same generator, so a resumed run draws what the uninterrupted one drew."""
        draws = torch.rand(count, generator=self.generator) < 0.5
        return draws.pin_memory().to(self.device, non_blocking=True)

    def validate(self, epoch: int, x_val, y_val, progress: _Progress, log) -> None:
        """Validation top-1 and health of the epoch's net, kept if it is the best so far."""
        with self.autocast(self.step_runs_convs):
            check = evaluate(self.net, x_val, y_val, start=self.depth, watch_from=self.n_frozen)
        progress.history.append(
            {
                "epoch": epoch,
                "loss": progress.loss,
                "val_top1": check.top1,
                "lr": self.recipe.lr_at(progress.step - 1, self.total),
                "top_class_share": check.top_class_share,
                **{f"dead_{layer}": share for layer, share in check.dead.items()},
            }
        )
        dead = " ".join(f"{layer} {share:.0%}" for layer, share in check.dead.items())
        log(f"epoch {epoch}: loss {progress.loss:.4f} val_top1 {check.top1:.4f} dead units: {dead}")
        if check.top1 > progress.best_val:
            progress.best_val, progress.best_epoch = check.top1, epoch
            progress.best_net = copy.deepcopy(self.net.state_dict())

    def state(self, epoch: int, progress: _Progress, seconds: float) -> dict:
        """Everything a resumed run needs to continue as if it had not stopped."""
        return {
            "epoch": epoch,
            "net": self.net.state_dict(),
            "momentum": self.optimizer.buffers,
            "step": progress.step,
            "loss": progress.loss,
            "history": progress.history,
            "best_val": progress.best_val,
            "best_epoch": progress.best_epoch,
            "best_net": progress.best_net,
            "generator": self.generator.get_state(),
            "rng": devices.rng_states(self.device),
            "seconds": seconds,
        }


def _setup(net, data: dict, recipe: Recipe, n_frozen: int, seed: int):
    """The device, the net and data on it, and the solver; seeded before anything draws."""
    device = devices.pick()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net.to(device)
    data = devices.to_device(data, device)
    devices.configure(device, recipe.precision)
    for x, _ in data.values():  # streamed images: where batches go, what they draw
        if hasattr(x, "prepare"):
            x.prepare(device, seed, recipe.augment_flip)
    models.freeze(net, n_frozen)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = MomentumSGD(params, recipe.momentum, recipe.weight_decay, recipe.clip_grad_norm)
    return device, data, optimizer, generator


def _restore(resume: ResumeState | None, net, optimizer, generator, device, epochs: int, log):
    """The saved state of an interrupted run, loaded into the net, solver and generators."""
    saved = resume.load(net, optimizer) if resume else None
    if saved:
        net.load_state_dict(saved["net"])
        if saved["momentum"] is not None:
            optimizer.buffers = [b.to(device) for b in saved["momentum"]]
        generator.set_state(saved["generator"])
        devices.set_rng_states(saved["rng"], device)
        log(f"resumed from {resume.path}: epoch {saved['epoch']} of {epochs} was done")
    return saved


def train(
    net: models.TransferNet,
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
    recipe: Recipe,
    n_frozen: int,
    seed: int,
    log=print,
    resume: ResumeState | None = None,
) -> tuple[Outcome, dict]:
    """Train `net` (first n_frozen stages frozen) and return the outcome and diagnostics.

    Model selection: the epoch with the best validation top-1 (validation images are
    carved from the training images); top-1 is then measured once on the test images.
    With `resume`, the state is saved after every epoch and a saved state is resumed.
    """
    device, data, optimizer, generator = _setup(net, data, recipe, n_frozen, seed)
    saved = _restore(resume, net, optimizer, generator, device, recipe.epochs, log)
    loop = _Loop(net, data, recipe, n_frozen, device, optimizer, generator)
    feats, diagnostics = loop.cache_features(data, log)
    progress = _Progress.start(net, saved)
    started = time.perf_counter()
    for epoch in range(progress.first_epoch, recipe.epochs + 1):
        if not loop.run_epoch(epoch, *feats["train"], progress):
            log(f"epoch {epoch}: loss is not finite; the net diverged, training stops")
            warnings.warn("training diverged (non-finite loss)", RuntimeWarning, stacklevel=2)
            break
        loop.validate(epoch, *feats["val"], progress, log)
        if resume:
            elapsed = progress.seconds_before + time.perf_counter() - started
            resume.save_later(loop.state(epoch, progress, elapsed))
    if resume:
        resume.wait()  # the last epoch's state is on disk before the outputs are written
    seconds = progress.seconds_before + time.perf_counter() - started
    if not progress.diverged:
        net.load_state_dict(progress.best_net)
    with loop.autocast(loop.step_runs_convs):
        test = top1(net, *feats["test"], start=loop.depth)
    outcome = Outcome(
        top1=test,
        val_top1=max(progress.best_val, 0.0),
        best_epoch=progress.best_epoch,
        epochs_run=len(progress.history),
        diverged=progress.diverged,
        final_loss=progress.loss,
        train_seconds=seconds,
        history=progress.history,
        device=devices.describe(device),
        resumed_from_epoch=progress.first_epoch - 1,
    )
    return outcome, diagnostics
