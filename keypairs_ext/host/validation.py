"""JSON-schema validation of request bodies and queries, with compute's messages.

jsonschema decides and words every refusal.  Walking a schema through it
costs tens of microseconds even for a fitting body, so a schema made only
of the keywords in :data:`_PRECHECKED` is also compiled by fastjsonschema
into a plain function: a body that function accepts is accepted at once;
anything else, jsonschema looks at as before.  Those keywords mean the same
in fastjsonschema's draft 7 as in jsonschema's 2020-12 for decoded JSON, so
the quick check never accepts what jsonschema refuses.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema import Draft202012Validator

from keypairs_ext.host.contract import Invalid

_validators: dict[int, tuple[dict, Draft202012Validator, Callable[[Any], Any] | None]] = {}
_lock = threading.Lock()

# Keywords the quick check may see.  Left out on purpose: "format" (the two
# libraries check different formats), "pattern" (fastjsonschema rewrites
# "$"), "default" (fastjsonschema would fill it in), "const" and non-string
# "enum" values (fastjsonschema's "in" has True == 1), and every keyword
# whose meaning changed between drafts.
_PRECHECKED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "minimum",
        "maximum",
        "title",
        "description",
    }
)
# Not "array": fastjsonschema also takes a tuple for one.
_TYPES = frozenset({"object", "string", "integer", "number", "boolean", "null"})


def _plain(schema: Any) -> bool:
    """Whether ``schema`` uses only :data:`_PRECHECKED`, in their plain forms."""
    if not isinstance(schema, dict):
        return False
    for keyword, value in schema.items():
        if keyword not in _PRECHECKED:
            return False
        if keyword == "type":
            names = value if isinstance(value, list) else [value]
            fits = all(isinstance(name, str) and name in _TYPES for name in names)
        elif keyword == "properties":
            fits = isinstance(value, dict) and all(_plain(s) for s in value.values())
        elif keyword == "additionalProperties":
            fits = isinstance(value, bool) or _plain(value)
        elif keyword in ("required", "enum"):
            fits = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif keyword in ("title", "description"):
            fits = isinstance(value, str)
        else:  # the bounds
            fits = isinstance(value, int | float) and not isinstance(value, bool)
        if not fits:
            return False
    return True


def _quick_check(schema: dict) -> Callable[[Any], Any] | None:
    if not _plain(schema):
        return None
    return fastjsonschema.compile(schema, use_default=False, detailed_exceptions=False)


def _validator(schema: dict) -> tuple[Draft202012Validator, Callable[[Any], Any] | None]:
    # Schemas are module-level constants: compile each once, not per request.
    cached = _validators.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1], cached[2]
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    quick = _quick_check(schema)
    with _lock:
        _validators[id(schema)] = (schema, validator, quick)
    return validator, quick


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
    validator, quick = _validator(schema)
    if quick is not None:
        try:
            quick(instance)
            return
        except Exception:  # any refusal or doubt: jsonschema decides
            pass
    errors = list(validator.iter_errors(instance))
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
