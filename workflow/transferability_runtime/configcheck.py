"""Config validation with short messages that name the key, the problem and the fix.

Snakemake's own `validate` fills in the schema's defaults but reports a violation by
dumping the whole schema; this runs first and says what is wrong in one line per key.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import jsonschema
import yaml


def _allowed(schema: dict, root: dict) -> list[str]:
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return sorted(schema.get("properties", {}))


def _message(error: jsonschema.ValidationError, root: dict) -> str:
    key = ".".join(map(str, error.absolute_path))
    if error.validator == "additionalProperties":
        known = _allowed(error.schema, root)
        unknown = sorted(set(error.instance) - set(known))
        where = f"{key}." if key else ""
        return (
            f"{', '.join(where + u for u in unknown)}: unknown key; "
            f"the keys allowed {'under ' + key if key else 'at the top level'} are {known}"
        )
    top = error.absolute_path[0] if error.absolute_path else None
    about = root.get("properties", {}).get(top, {}).get("description")
    hint = _yaml_number_hint(error)
    return f"{key or 'config'}: {error.message}" + (hint or (f" ({top}: {about})" if about else ""))


def _yaml_number_hint(error: jsonschema.ValidationError) -> str | None:
    """`lr: 1e-3` is text to YAML 1.1 (PyYAML, Snakemake): a float needs a dot and a signed
    exponent. Say how to write it."""
    if error.validator != "type" or not isinstance(error.instance, str):
        return None
    wanted = error.validator_value
    if not {"number", "integer"} & ({wanted} if isinstance(wanted, str) else set(wanted)):
        return None
    try:
        float(error.instance)
    except ValueError:
        return None
    mantissa, _, exponent = error.instance.strip().lower().partition("e")
    if not exponent:
        return None
    mantissa = mantissa if "." in mantissa else f"{mantissa}.0"
    written = f"{mantissa}e{exponent if exponent[0] in '+-' else '+' + exponent}"
    return (
        f"; YAML reads {error.instance} as text, not a number: write it as {written} "
        "(with a dot, and a sign on the exponent)"
    )


def schema_problems(
    config: dict, schema_path: str | Path, cli_keys: Iterable[str] = ()
) -> list[str]:
    """One line per violation of the schema, sorted by key; empty when the config is valid.
    `cli_keys`: the top-level keys given with `--config`, whose lists and mappings Snakemake
    reads as text."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    cli_keys = set(cli_keys)
    problems = [_problem(e, schema, cli_keys) for e in errors]
    return problems + list(non_finite(config))


def _problem(error: jsonschema.ValidationError, root: dict, cli_keys: set[str]) -> str:
    if hint := _boolean_hint(error, cli_keys):
        return f"{'.'.join(map(str, error.absolute_path))}: {error.message}{hint}"
    return _message(error, root) + _cli_hint(error, cli_keys)


BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def _boolean_hint(error: jsonschema.ValidationError, cli_keys: set[str]) -> str | None:
    """`--config smoke_report=false` arrives as the text 'false': Snakemake's --config
    reads only `True` and `False` as booleans. In a YAML file, a quoted 'false' is text too.
    Say how to write it where it was written."""
    wanted = error.validator_value if error.validator == "type" else None
    if "boolean" not in ([wanted] if isinstance(wanted, str) else (wanted or [])):
        return None
    if not isinstance(error.instance, str) or error.instance.lower() not in BOOLEAN_WORDS:
        return None
    value = BOOLEAN_WORDS[error.instance.lower()]
    path = list(map(str, error.absolute_path))
    key = ".".join(path)
    if path[0] not in cli_keys:
        return f"; write {str(value).lower()} without quotes (quoted, YAML reads it as text)"
    if len(path) > 1:
        return None  # inside [ ] or { } of --config: _cli_hint says what to do
    return (
        f"; Snakemake's --config reads only True and False as booleans: write "
        f"`--config {key}={value}`, or `{key}: {str(value).lower()}` in a YAML file given "
        "with --configfile"
    )


def _cli_hint(error: jsonschema.ValidationError, cli_keys: set[str]) -> str:
    """`--config seeds=[0,1]`: Snakemake reads a list or mapping given there as text
    ('0'), so a number inside it is refused; a config file keeps its types."""
    top = error.absolute_path[0] if error.absolute_path else None
    if top not in cli_keys or error.validator != "type" or not isinstance(error.instance, str):
        return ""
    return (
        f"; `--config {top}=...` passes the values inside [ ] or {{ }} as text: write "
        f"`{top}: ...` in a YAML file and give it with --configfile"
    )


def non_finite(value, key: str = "") -> Iterable[str]:
    """`lr: .inf` or `.nan` is a float to YAML and a number to the schema, but no setting
    of this workflow means anything with it (every net would diverge)."""
    if isinstance(value, float) and not math.isfinite(value):
        written = ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
        yield f"{key or 'config'}: {written} is not a finite number; give a finite value"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from non_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from non_finite(v, f"{key}.{i}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML (and so Snakemake) keeps the last of two equal keys and drops the first
    silently: a second `training:` block replaces the first whole."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise DuplicateKey(key, seen[key], key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class DuplicateKey(Exception):
    def __init__(self, key, first: int, second: int):
        super().__init__(key, first, second)
        self.key, self.first, self.second = key, first, second


def duplicate_keys(paths: Iterable[str | Path]) -> list[str]:
    """One line per config file that has a key twice in one mapping."""
    problems = []
    for path in paths:
        try:
            yaml.load(Path(path).read_text(), Loader=_UniqueKeyLoader)  # noqa: S506
        except DuplicateKey as e:
            problems.append(
                f"{path}: key {e.key!r} appears twice (lines {e.first} and {e.second}) in one "
                "mapping, and YAML keeps only the last, dropping the first whole; merge them "
                "into one"
            )
        except (OSError, yaml.YAMLError):
            continue  # Snakemake has read the file already: it says what is wrong with it
    return problems


def empty_config_files(paths: Iterable[str | Path]) -> list[str]:
    """One line per config file that holds no `key: value` mapping: empty, only comments, or
    a list or a lone value. Snakemake refuses such a file without naming it ("Config file
    must be given as JSON or YAML with keys at top level")."""
    problems = []
    for path in paths:
        try:
            content = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError):
            continue  # Snakemake says what is wrong with a file it cannot read or parse
        if content is None:
            problems.append(
                f"{path}: the config file is empty (or only comments); give it a setting "
                "(`key: value`, e.g. `seeds: [0]`) or leave it out of --configfile"
            )
        elif not isinstance(content, dict):
            problems.append(
                f"{path}: the config file holds a {type(content).__name__}, not `key: value` "
                "lines; write each setting as `key: value` at the top level (see "
                "config/config.yaml)"
            )
    return problems


# The repository's own folders: a run's outputs written into one would mix with the code,
# config and docs (and `git status` would list them); results/ is git-ignored.
RESULTS_DEFAULT = "results"


def results_problem(results: str, repo_root: Path) -> str | None:
    """`results:` must be a folder (or not exist yet), and results/ (or a folder under it)
    or a folder outside the repository; anything else inside the repository (`.`,
    `workflow`, `config`, ...) is refused. A relative `results` is taken from the working
    directory, as Snakemake does."""
    if os.path.lexists(results) and not os.path.isdir(results):
        return (
            f"results: {results} is a file, not a folder; move the file away or set "
            "`results:` in your config to a folder"
        )
    where, root = Path(results).resolve(), Path(repo_root).resolve()
    allowed = (root / RESULTS_DEFAULT).resolve()
    if where == allowed or allowed in where.parents:
        return None
    if where != root and root not in where.parents:
        return None
    inside = (
        "is the repository itself"
        if where == root
        else f"is inside the repository, in {where.relative_to(root).parts[0]}/"
    )
    return (
        f"results: {results} {inside}, where the outputs would mix with its own files; set "
        f"`results:` to {RESULTS_DEFAULT} or a folder under it (e.g. {RESULTS_DEFAULT}/myrun), "
        "or to a folder outside the repository"
    )


def main(argv: list[str]) -> int:
    """`python -m workflow.transferability_runtime.configcheck FILE ...` (from the
    repository root): what Snakemake would refuse in these config files, each file named
    (Snakemake reads --configfile files before the Snakefile, so it cannot say which)."""
    problems = empty_config_files(argv) + duplicate_keys(argv)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
