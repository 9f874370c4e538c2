"""Each treatment is defined once (transferability/treatments.py): the config schema's enums,
the workflow's wildcard constraint and every derived table agree with that registry."""

import re

import pytest
import yaml

from transferability import grid, treatments
from transferability.analysis import nets, plotting, units
from transferability.errors import ConfigError

from .support import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
CELLS = list(treatments.CELL_TREATMENTS)


def test_the_registry_holds_the_papers_six_treatments_and_four_random_arms():
    assert {t.name: t.label for t in treatments.REGISTRY} == {
        "base": "base",
        "selffer": "BnB",
        "selffer_ft": "BnB+",
        "transfer": "AnB",
        "transfer_ft": "AnB+",
        "random": "random (He)",
        "random_quarter_lr": "random (He, lr/4)",
        "random_paper": "random (paper init)",
        "random_paper_quarter_lr": "random (paper init, lr/4)",
    }
    assert [t.name for t in treatments.REGISTRY if not t.is_cell] == ["base"]


def test_the_schema_names_the_registrys_cell_treatments_once():
    # Every key whose values are treatments refers to one definition, so a treatment
    # added to the registry is added to the schema in one place.
    assert SCHEMA["definitions"]["treatment"]["enum"] == CELLS
    ref = {"$ref": "#/definitions/treatment"}
    properties = SCHEMA["properties"]
    splits = properties["splits"]["properties"]
    assert properties["treatments"]["items"] == ref
    assert splits["dissimilar"]["properties"]["treatments"]["items"] == ref
    assert splits["treatment_splits"]["propertyNames"] == ref
    assert properties["training"]["properties"]["by_treatment"]["propertyNames"] == ref
    assert [e for e in _enums(SCHEMA) if "selffer" in e] == [CELLS]
    assert sorted(properties["treatments"]["default"]) == sorted(CELLS)


def _enums(node):
    """Every `enum` list in a schema, at any depth."""
    if isinstance(node, dict):
        yield from ([node["enum"]] if "enum" in node else [])
        for value in node.values():
            yield from _enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _enums(value)


def test_the_wildcard_constraint_is_the_registrys_cell_treatments():
    text = (REPO / "workflow/rules/common.smk").read_text()
    block = re.search(r"^wildcard_constraints:\n((?:    .*\n)+)", text, re.M)[1]
    (expression,) = re.findall(r"^    treatment=(.+),$", block, re.M)
    constraint = eval(expression, {"grid": grid})  # the expression the Snakefile evaluates
    assert sorted(constraint.split("|")) == sorted(CELLS)
    for name in CELLS:
        assert re.fullmatch(f"(?:{constraint})", name)
    for name in ("base", "AnB", "selffer_f", "transfer_ftx"):
        assert not re.fullmatch(f"(?:{constraint})", name)


def test_config_readme_names_each_treatment_with_its_label():
    (row,) = [
        line
        for line in (REPO / "config/README.md").read_text().splitlines()
        if line.startswith("| `treatments` |")
    ]
    for t in treatments.REGISTRY:
        if t.is_cell:
            assert f"`{t.name}`" in row and (t.label == t.name or f"({t.label})" in row), t.name


def test_everything_else_derives_from_the_registry():
    assert tuple(CELLS) == grid.TREATMENTS
    cells = [t for t in treatments.REGISTRY if t.is_cell]
    assert tuple(t.name for t in cells if t.fine_tunes) == grid.FINE_TUNED
    assert {t.name for t in cells if t.copies_from == treatments.OTHER} == units.CROSS_HALF
    assert tuple(t.name for t in treatments.REGISTRY) == nets.TREATMENT_ORDER
    assert list(plotting.STYLES) == list(nets.TREATMENT_ORDER)
    assert {k: s.label for k, s in plotting.STYLES.items()} == nets.DISPLAY_NAMES


@pytest.mark.parametrize(
    ("name", "n", "frozen", "prefix"),
    [
        ("selffer", 3, 3, treatments.COPIED),
        ("transfer", 3, 3, treatments.COPIED),
        ("selffer_ft", 3, 0, treatments.COPIED),
        ("transfer_ft", 3, 0, treatments.COPIED),
        ("random", 3, 3, treatments.RANDOM_INIT),
    ],
)
def test_what_a_cell_copies_and_freezes(name, n, frozen, prefix):
    spec = treatments.get(name)
    assert spec.frozen_layers(n) == frozen
    assert spec.prefix == prefix


@pytest.mark.parametrize("name", ["base", "AnB", "nope"])
def test_an_unknown_cell_treatment_is_a_config_error_naming_the_known_ones(name):
    with pytest.raises(ConfigError, match="known: .*'selffer'"):
        treatments.get(name)


def test_no_treatment_name_is_spelled_outside_the_registry():
    """The analysis compares with the registry's constants (treatments.TRANSFER_FT, ...):
    a renamed treatment cannot leave a stale spelling behind."""
    import re

    from .support import REPO

    # "random" is also a split kind (`split_kind == "random"`): not checked here.
    names = "|".join(t.name for t in treatments.REGISTRY if t.is_cell and t.name != "random")
    quoted = re.compile(rf"""["']({names})["']""")
    for path in (REPO / "workflow/transferability/analysis").glob("*.py"):
        found = quoted.findall(path.read_text())
        assert not found, f"{path.name} spells {sorted(set(found))}"
