"""Config validation with short messages that name the key, the problem and the fix.

Snakemake's own `validate` fills in the schema's defaults but reports a violation by
dumping the whole schema; this runs first and says what is wrong in one line per key.
"""

from __future__ import annotations

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


def schema_problems(config: dict, schema_path: str | Path) -> list[str]:
    """One line per violation of the schema, sorted by key; empty when the config is valid."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [_message(e, schema) for e in errors]
