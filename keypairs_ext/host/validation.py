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
    """Raise Invalid with OpenStack Compute's wording when ``instance`` misfits."""
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
    shown = value if not isinstance(value, str) or len(value) <= 255 else value[:255] + "..."
    if path:
        raise Invalid(f"Invalid input for field/attribute {path}. Value: {shown}. {error.message}")
    raise Invalid(f"Invalid input: {error.message}")


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
