"""JSON-schema validation of request bodies and queries, with compute's messages."""

from __future__ import annotations

import re
import threading
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from keypairs_ext.host.contract import Invalid

_validators: dict[int, tuple[dict, Draft202012Validator]] = {}
_lock = threading.Lock()


def _validator(schema: dict) -> Draft202012Validator:
    # Schemas are module-level constants: compile each once, not per request.
    cached = _validators.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    with _lock:
        _validators[id(schema)] = (schema, validator)
    return validator


def _path(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path)


def _best(errors: list[jsonschema.ValidationError]) -> jsonschema.ValidationError:
    return jsonschema.exceptions.best_match(errors)  # type: ignore[return-value]


def validate(schema: dict, instance: Any) -> None:
    """Raise Invalid with OpenStack Compute's wording when ``instance`` misfits.

    Compute's pattern (``Invalid input for field/attribute <path>. Value:
    <value>. <reason>``) is kept; where jsonschema's own reason reads like
    Python (a type, an empty or an over-long string, a missing body) it is
    said in words, and a long value is shown once, shortened.
    """
    errors = list(_validator(schema).iter_errors(instance))
    if not errors:
        return
    error = _best(errors)
    if error.validator == "additionalProperties":
        raise Invalid(f"Additional properties are not allowed ({_unexpected(error)})")
    if error.validator == "required":
        raise Invalid(error.message)
    path = _path(error)
    value = error.instance
    if not path:
        if error.validator == "type" and value is None:
            raise Invalid("Invalid input: the request has no body; it must be a JSON object.")
        if error.validator == "type":
            wanted = "a JSON object" if error.validator_value == "object" else _expected(error)
            raise Invalid(
                f"Invalid input: the request body must be {wanted}, not {_json_type(value)}."
            )
        raise Invalid(f"Invalid input: {error.message}")
    field = f"Invalid input for field/attribute {path}."
    if error.validator == "type":
        raise Invalid(f"{field} It must be {_expected(error)}, not {_json_type(value)}.")
    if error.validator == "minLength" and value == "":
        raise Invalid(f"{field} It may not be empty.")
    if error.validator == "minLength":
        raise Invalid(
            f"{field} Value: {value}. It must be at least {error.validator_value} characters long."
        )
    if error.validator == "maxLength":
        raise Invalid(
            f"{field} Value: {value[:_SHOWN]}... ({len(value)} characters). It may be at "
            f"most {error.validator_value} characters long."
        )
    shown = value if not isinstance(value, str) or len(value) <= 255 else value[:255] + "..."
    raise Invalid(f"{field} Value: {shown}. {error.message}")


# How much of an over-long string a message shows.
_SHOWN = 20
_ARTICLES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _expected(error: jsonschema.ValidationError) -> str:
    wanted = error.validator_value
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    return " or ".join(_ARTICLES.get(name, name) for name in names)


def _json_type(value: Any) -> str:
    """What ``value`` is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    return "a number"


def _unexpected(error: jsonschema.ValidationError) -> str:
    allowed = set(error.schema.get("properties", {}))
    patterns = error.schema.get("patternProperties", {})
    extra = sorted(
        key
        for key in error.instance
        if key not in allowed and not any(re.search(p, key) for p in patterns)
    )
    quoted = ", ".join(repr(k) for k in extra)
    verb = "were" if len(extra) > 1 else "was"
    return f"{quoted} {verb} unexpected"
