"""The treatments of Yosinski et al. (2014), each defined once: what a net of that treatment
copies, what it trains, what the paper calls it and how the figures draw it.

Everything else derives from `REGISTRY`: the grid (`grid.TREATMENTS`, `grid.FINE_TUNED`,
`grid.source_half`), what a cell copies and freezes (`training.jobs.train_cell`), the display names
and table order (`nets.DISPLAY_NAMES`, `nets.TREATMENT_ORDER`), the figures' styles
(`figures.STYLES`), the claims' units of resampling (`claims.CROSS_HALF`), the workflow's
wildcard constraint and the synthetic tables of the tests. The config schema keeps its own
enum (Snakemake validates with it); tests/test_treatments.py checks it against this registry.

Pure Python, no torch: the Snakefile imports it at start. To add a treatment see
docs/extending.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

# Which base net a treatment's first n layers are copied from.
OWN = "own"  # the base net of the target half (a selffer, BnB)
OTHER = "other"  # the base net of the other half (a transfer, AnB)
NONE = "none"  # none: the layers start from a random initialisation

# How a net's first n layers (its prefix) start.
COPIED = "copied"
RANDOM_INIT = "random"

# The treatments' names, spelled here and nowhere else (the analysis compares with these).
BASE, SELFFER, SELFFER_FT = "base", "selffer", "selffer_ft"
TRANSFER, TRANSFER_FT = "transfer", "transfer_ft"
RANDOM, RANDOM_PAPER = "random", "random_paper"
# The same two inits at a quarter of the cells' lr: with the arms above, init x lr as a 2 x 2
# grid, so the init's effect is measured at equal lr (issue 32; docs/claims.md).
RANDOM_QUARTER_LR, RANDOM_PAPER_QUARTER_LR = "random_quarter_lr", "random_paper_quarter_lr"

# How a random prefix is initialised (models.INITS): He-normal, which keeps the signal's
# scale through ReLU layers, or the paper's Caffe Gaussians and constant biases per layer.
HE = "he"
CAFFE = "caffe"


@dataclass(frozen=True)
class Style:
    """How the figures draw a treatment."""

    color: str  # edge colour, and line colour in the mean panels
    facecolor: str
    marker: str
    offset: float  # sideways shift on the n axis so treatments at one n do not overlap


@dataclass(frozen=True)
class Treatment:
    name: str  # as in configs, paths and the `treatment` column
    label: str  # the paper's name, in figures and tables
    copies_from: str  # OWN, OTHER or NONE: the base net its first n layers come from
    fine_tunes: bool  # True: every layer trains (frozen = 0); False: its first n stay frozen
    style: Style
    is_cell: bool = True  # False only for the base net (n = 0, nothing copied)
    init: str = HE  # how a random prefix starts (HE or CAFFE); copied prefixes ignore it
    # Multiplies the lr its cells' recipe resolves to (grid.recipe); in the recipe, so in
    # every net's key and settings.
    lr_scale: float = 1.0

    @property
    def prefix(self) -> str:
        """How its first n layers start: COPIED from a base net, or RANDOM_INIT."""
        return RANDOM_INIT if self.copies_from == NONE else COPIED

    def frozen_layers(self, n: int) -> int:
        """How many of its first layers do not train: n, or 0 when it fine-tunes."""
        return 0 if self.fine_tunes else n


# The registry is data, not code, to the code fingerprint (provenance.py): a net's key holds
# its own treatment's entry (`training_entry`), so adding a treatment or restyling one
# retrains no other net.
PROVENANCE_DATA = ("REGISTRY",)

# In the order of the figures' legends and the report's tables. The colours are the paper's
# Figure 2 palette: blues for selffers, reds for transfers, darker when frozen.
REGISTRY: tuple[Treatment, ...] = (
    # The base net: trained from scratch on its half, all layers (n = 0: nothing to freeze).
    Treatment(BASE, "base", NONE, False, Style("black", "white", "o", 0.0), is_cell=False),
    Treatment(SELFFER, "BnB", OWN, False, Style("#08306b", "#08306b", "o", -0.24)),
    Treatment(SELFFER_FT, "BnB+", OWN, True, Style("#6baed6", "#6baed6", "o", -0.08)),
    Treatment(TRANSFER, "AnB", OTHER, False, Style("#99000d", "#99000d", "D", 0.08)),
    Treatment(TRANSFER_FT, "AnB+", OTHER, True, Style("#fc9272", "#fc9272", "D", 0.24)),
    # Random frozen layers (the paper's Section 4.2): the first n layers random and frozen,
    # in four arms, because the outcome depends on the init and, for the paper's init, on
    # the lr: He-normal layers (signal kept) and the paper's own init (Caffe's
    # N(0, 0.01^2) / N(0, 0.005^2) weights, biases 0 or 1), each at the cells' lr and at a
    # quarter of it.
    Treatment(RANDOM, "random (He)", NONE, False, Style("#525252", "#525252", "s", -0.16)),
    Treatment(
        RANDOM_QUARTER_LR,
        "random (He, lr/4)",
        NONE,
        False,
        Style("#969696", "white", "s", -0.05),
        lr_scale=0.25,
    ),
    Treatment(
        RANDOM_PAPER,
        "random (paper init)",
        NONE,
        False,
        Style("#b15928", "#b15928", "^", 0.05),
        init=CAFFE,
    ),
    Treatment(
        RANDOM_PAPER_QUARTER_LR,
        "random (paper init, lr/4)",
        NONE,
        False,
        Style("#b15928", "white", "^", 0.16),
        init=CAFFE,
        lr_scale=0.25,
    ),
)
BY_NAME: dict[str, Treatment] = {t.name: t for t in REGISTRY}
# The treatments a transfer cell (n = 1..7) can have: every one but the base net.
CELL_TREATMENTS: tuple[str, ...] = tuple(t.name for t in REGISTRY if t.is_cell)


def get(name: str) -> Treatment:
    """The cell treatment called `name`; a ConfigError naming the known ones otherwise."""
    treatment = BY_NAME.get(name)
    if treatment is None or not treatment.is_cell:
        raise ConfigError(f"treatments: unknown treatment {name!r}; known: {list(CELL_TREATMENTS)}")
    return treatment


def training_entry(name: str) -> dict:
    """What of a treatment's entry its nets are trained by (not its label or style): part of
    each of its nets' keys."""
    t = BY_NAME[name]
    return {"copies_from": t.copies_from, "fine_tunes": t.fine_tunes, "init": t.init}


def is_random(name: str) -> bool:
    """Whether a treatment's prefix is random: there a chance-level net is a result."""
    return BY_NAME[name].prefix == RANDOM_INIT and BY_NAME[name].is_cell


def source_half(name: str, target: str) -> str:
    """The half whose base net lends a cell its layers: own half for selffers, the other for
    transfers, "none" for random layers."""
    copies_from = get(name).copies_from
    if copies_from == OWN:
        return target
    if copies_from == OTHER:
        return "B" if target == "A" else "A"
    return "none"
