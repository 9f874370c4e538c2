"""The layer sets the claims average over, and the figures annotate: where the paper's
effects are (the selffer dip at n = 3..5, the transfer decline and boost at high n), taken
from the net's layer count (layers.py). Kept apart from the measures so the figures do not
depend on the claims' code (and its code fingerprint)."""

from ..layers import CHOP_LAYERS

LOW_END_N = (1, 2)
MID_N = (3, 4, 5)
HIGH_END_N = (6, 7)
HIGH_N_MIN = 5  # "high n" for the specificity claims: the paper's fc layers and conv5
ALL_N = CHOP_LAYERS
HIGH_N = tuple(n for n in CHOP_LAYERS if n >= HIGH_N_MIN)
RANDOM_N_MIN = 3  # the paper: random frozen layers are "near chance from n=3"
