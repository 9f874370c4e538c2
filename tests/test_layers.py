"""The layer count is written once (transferability/layers.py): the model, the schema, the
workflow's wildcard of n, the claims' layer sets and the figures' axes follow it."""

import re

import yaml

from transferability import layers
from transferability.analysis import layer_sets, plotting
from transferability.training import models

from .support import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def test_the_model_is_built_from_the_named_layers():
    net = models.TransferNet("small28", 5)
    assert len(net.weight_layers()) == layers.NUM_LAYERS == len(layers.LAYER_NAMES)
    assert tuple(range(1, layers.NUM_LAYERS)) == layers.CHOP_LAYERS


def test_the_schema_allows_exactly_the_chop_layers():
    prop = SCHEMA["properties"]["layers"]
    assert prop["items"]["maximum"] == max(layers.CHOP_LAYERS)
    assert prop["items"]["minimum"] == min(layers.CHOP_LAYERS)
    assert prop["default"] == list(layers.CHOP_LAYERS)
    widths = SCHEMA["properties"]["model"]["properties"]["widths"]
    assert widths["minItems"] == widths["maxItems"] == layers.NUM_LAYERS - 1


def test_the_wildcard_of_n_matches_exactly_the_chop_layers():
    common = (REPO / "workflow/rules/common.smk").read_text()
    assert re.search(r'n="\|"\.join\(map\(str, layers\.CHOP_LAYERS\)\)', common)
    pattern = re.compile("|".join(map(str, layers.CHOP_LAYERS)))
    assert all(pattern.fullmatch(str(n)) for n in layers.CHOP_LAYERS)
    assert not pattern.fullmatch("0") and not pattern.fullmatch(str(layers.NUM_LAYERS))


def test_the_claims_and_figures_take_their_layers_from_the_model():
    assert layer_sets.ALL_N == layers.CHOP_LAYERS
    assert layer_sets.HIGH_N[-1] == layers.CHOP_LAYERS[-1]
    assert list(plotting.N_TICKS) == list(range(layers.NUM_LAYERS))
