"""The net's weight layers, named once. Torch-free: the Snakefile (the wildcard of n), the
grid and the analysis read the layer count from here, and `training.models` builds the net
from the same names.

A transfer net copies the first n layers of a base net, n = 1 .. NUM_LAYERS - 1: the last
layer is the classifier of the new task and is always trained anew.
"""

LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
NUM_LAYERS = len(LAYER_NAMES)
FIRST_FC = LAYER_NAMES.index("fc6")  # the first stage that flattens its input
CHOP_LAYERS = tuple(range(1, NUM_LAYERS))  # the n of the transfer experiments
