"""Did a net train? Every net gets a status from what its training history shows.

`trained` nets are the only ones any mean, line, interval or claim counts. The others stay
in the table and on the figures (with a marker of their own), with the reason:

- `diverged`: the training loss became non-finite; training stopped there.
- `failed`: the loss stayed finite, but the net did not learn, or learned and collapsed.
- `chance`: the training loss never fell below (1 - 3%) ln k, the loss of predicting the
  class prior, and ends within 3% of it, and no trainable layer is dead: the net never
  left chance. With frozen
  random layers below it that is a measured result (the random-weight claims count it, at
  chance); anywhere else it is excluded like a failure, but named for what it is.

The thresholds come from the per-epoch histories of real runs of the default
(`benchmarks/recipe_sweep.py`; docs/training.md has the numbers). With the old recipe
(lr 0.03 at batch 64) 9 of 56 random-frozen cells broke: a trainable fc6 or fc7 with
91-100% of its units dead on every validation image, and some of them falling back to
one class (79-100% of the images) or to chance; the 47 others kept at least 36% of the
way from chance to 1 and 59% of their best gain at the last epoch. With the recipe that
replaced it (lr 0.0025), every net of the sweep stays far from each threshold: at most
34% dead units in a trainable layer, at most 37% of the images in one class (chance:
20%), at least 36% of the way from chance and 93% of the best gain kept at the end.
Pure Python: tests and the analysis read it without torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

TRAINED, CHANCE, DIVERGED, FAILED = "trained", "chance", "diverged", "failed"
STATUSES = (TRAINED, CHANCE, DIVERGED, FAILED)

# "Did not learn": the best validation top-1 keeps less than this share of the way from
# chance to perfect (top-1 0.36 for 5 classes; every net that trained in the sweeps got
# at least 0.36 of the way, top-1 0.49).
MIN_LEARNED = 0.2
# "Collapsed": at the last epoch, the net lost more than half of its best above-chance
# validation accuracy; or it gives one class to this share of the validation images or
# more (balanced images: a working net gives each class about 1/k); or a trainable layer
# has this share of its units dead on every validation image (they get no gradient back).
MAX_LOST = 0.5
MAX_TOP_CLASS_SHARE = 0.9
MAX_DEAD = 0.9
# The no-information optimum: a net whose input carries nothing about the label can do no
# better than the class prior, a loss of ln k on balanced classes (dropout adds a little).
# Within this share of ln k, a net with live trainable layers has found that optimum.
CHANCE_LOSS_TOLERANCE = 0.03
# A last-epoch training loss above this multiple of ln k is worse than predicting the class
# prior by far: a broken optimiser (a huge step threw the net off), whatever else it shows.
MAX_LOSS_OVER_PRIOR = 2.0


def classify(
    history: Sequence[dict], diverged: bool, chance: float, near_chance_is_a_result: bool = False
) -> tuple[str, str]:
    """(status, reason) of a net from its per-epoch history; reason is '' when trained.

    A net whose training loss never fell below the prior's (within CHANCE_LOSS_TOLERANCE of
    ln k) and ends there is `chance` unless a trainable layer is dead (`failed`: a broken
    optimiser).
    `near_chance_is_a_result`: for frozen random layers the paper predicts near-chance
    top-1, so there not learning is an outcome to count, not a failure. Such a net whose
    loss left the prior's but whose validation top-1 never rose well above chance, and
    that ends at the no-information optimum, is `trained` even if it gives one class to
    every image (with no information, any one class is optimal); only the signs of a
    broken optimiser (a non-finite loss, a dead layer, a collapse from a better state)
    make it `failed`.
    """
    if diverged:
        return DIVERGED, "the training loss became non-finite"
    if not history:
        return FAILED, "no epoch finished"
    dead_layer = _dead_layer(history[-1])
    best = max(h["val_top1"] for h in history)
    learned = best - chance >= MIN_LEARNED * (1 - chance)
    # A net whose training loss never fell below the prior's has learned nothing, whatever
    # its best validation epoch says: near a uniform output the argmax can jump to a few
    # classes for an epoch (the study's replicate: top-1 0.37-0.52 for an epoch at loss ln 5).
    never_below_prior = min(h["loss"] for h in history) >= (
        (1 - CHANCE_LOSS_TOLERANCE) * -math.log(chance)
    )
    # Never below the prior's loss and ending at it: nothing learned. (A loss that ends far
    # above it is a broken optimiser: the checks below call that a collapse.)
    if never_below_prior and at_chance_optimum(history[-1]["loss"], chance):
        if dead_layer:  # a broken optimiser, not a net that had nothing to learn from
            return FAILED, dead_layer
        lowest = min(h["loss"] for h in history)
        return CHANCE, (
            f"never left chance: the lowest training loss, {lowest:.4f}, is within "
            f"{CHANCE_LOSS_TOLERANCE:.0%} of ln k ({-math.log(chance):.4f}, the class prior's)"
        )
    if near_chance_is_a_result and not learned and at_chance_optimum(history[-1]["loss"], chance):
        return (FAILED, dead_layer) if dead_layer else (TRAINED, "")
    if not near_chance_is_a_result and not learned:
        return FAILED, (
            f"did not learn: best validation top-1 {best:.3f} is within "
            f"{MIN_LEARNED:.0%} of the way from chance ({chance:.3f}) to 1"
        )
    last = history[-1]
    prior_loss = -math.log(chance)
    if math.isfinite(last["loss"]) and last["loss"] > MAX_LOSS_OVER_PRIOR * prior_loss:
        return FAILED, (
            f"collapsed: the training loss ends at {last['loss']:.4g}, over "
            f"{MAX_LOSS_OVER_PRIOR:g} x ln k ({prior_loss:.3f}, the loss of predicting the "
            "class prior)"
        )
    if last["val_top1"] - chance < (1 - MAX_LOST) * (best - chance):
        return FAILED, (
            f"collapsed: validation top-1 fell from {best:.3f} to {last['val_top1']:.3f} "
            f"by the last epoch (more than {MAX_LOST:.0%} of its gain over chance lost)"
        )
    share = last.get("top_class_share", 0.0)
    if share >= MAX_TOP_CLASS_SHARE:
        return FAILED, f"collapsed: one class predicted for {share:.0%} of the validation images"
    if dead_layer:
        return FAILED, dead_layer
    if not math.isfinite(last["loss"]):  # a resumed history from before the check
        return DIVERGED, "the training loss became non-finite"
    return TRAINED, ""


def at_chance_optimum(loss: float, chance: float) -> bool:
    """Whether a training loss sits at ln k, the best a net told nothing can do."""
    optimum = -math.log(chance)
    return math.isfinite(loss) and abs(loss - optimum) <= CHANCE_LOSS_TOLERANCE * optimum


def _dead_layer(last: dict) -> str:
    """The reason a trainable layer counts as dead at the last epoch ('' if none is)."""
    dead = {k.removeprefix("dead_"): v for k, v in last.items() if k.startswith("dead_")}
    worst = max(dead, key=dead.get, default=None)
    if worst is None or dead[worst] < MAX_DEAD:
        return ""
    return (
        f"collapsed: {dead[worst]:.0%} of the units of trainable layer {worst} are "
        "zero on every validation image"
    )
