"""Validation messages: compute's pattern, said in words where jsonschema speaks Python."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keypairs_ext.host import validation
from keypairs_ext.host.contract import Invalid
from keypairs_ext.host.validation import validate

SCHEMA = {
    "type": "object",
    "properties": {
        "item": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 10},
                "code": {"type": "string", "minLength": 3},
                "ref": {"type": ["string", "null"]},
                "kind": {"type": "string", "enum": ["a", "b"]},
            },
            "required": ["name"],
            "additionalProperties": False,
        }
    },
    "required": ["item"],
    "additionalProperties": False,
}


def message(instance: object) -> str:
    with pytest.raises(Invalid) as raised:
        validate(SCHEMA, instance)
    return str(raised.value)


@pytest.mark.parametrize(
    ("instance", "expected"),
    [
        (None, "Invalid input: the request has no body; it must be a JSON object."),
        ([], "Invalid input: the request body must be a JSON object, not an array."),
        (7, "Invalid input: the request body must be a JSON object, not an integer."),
        ({"item": None}, "Invalid input for field/attribute item. It must be an object, not null."),
        (
            {"item": {"name": ""}},
            "Invalid input for field/attribute item/name. It may not be empty.",
        ),
        (
            {"item": {"name": "n" * 30}},
            "Invalid input for field/attribute item/name. Value: nnnnnnnnnnnnnnnnnnnn... "
            "(30 characters). It may be at most 10 characters long.",
        ),
        (
            {"item": {"name": "n", "code": "ab"}},
            "Invalid input for field/attribute item/code. Value: ab. It must be at least 3 "
            "characters long.",
        ),
        (
            {"item": {"name": "n", "ref": 1.5}},
            "Invalid input for field/attribute item/ref. It must be a string or null, "
            "not a number.",
        ),
        (
            {"item": {"name": False}},
            "Invalid input for field/attribute item/name. It must be a string, not false.",
        ),
    ],
)
def test_messages_read_as_sentences(instance, expected):
    assert message(instance) == expected


def test_compute_texts_are_kept_where_clients_know_them():
    assert message({}) == "'item' is a required property"
    assert message({"item": {"name": "n", "x": 1, "y": 2}}) == (
        "Additional properties are not allowed ('x', 'y' were unexpected)"
    )
    assert message({"item": {"name": "n", "kind": "c"}}) == (
        "Invalid input for field/attribute item/kind. Value: c. 'c' is not one of ['a', 'b']"
    )


def test_a_fitting_instance_passes():
    validate(SCHEMA, {"item": {"name": "n", "ref": None, "kind": "a"}})


# --- the quick check ----------------------------------------------------------


def _request_schemas() -> dict[str, dict]:
    from keypairs_ext.api import certificates, controller, extended, lifecycle, schemas

    return {
        "CREATE_V20": schemas.CREATE_V20,
        "CREATE_V21": schemas.CREATE_V21,
        "CREATE_V22": schemas.CREATE_V22,
        "CREATE_V210": schemas.CREATE_V210,
        "CREATE_V292": schemas.CREATE_V292,
        "extended.CREATE": extended.CREATE,
        "extended.VALIDATE": extended.VALIDATE,
        "lifecycle.UPDATE": lifecycle.UPDATE,
        "CREATE 1.1": controller._CREATE_V11,
        "CREATE 1.2": controller._CREATE_V12,
        "UPDATE 1.2": controller._UPDATE_V12,
        "certificates.ISSUE": certificates.ISSUE,
        "certificates.CREATE_CA": certificates.CREATE_CA,
        "certificates.REVOKE_KEY": certificates.REVOKE_KEY,
        "test SCHEMA": SCHEMA,
    }


def _words(schema: object, found: set[str]) -> set[str]:
    """Every property name and enum value in ``schema``."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                found.update(value)
            if key == "enum" and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
            _words(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _words(value, found)
    return found


def _anything(words: set[str]) -> st.SearchStrategy[object]:
    """Any JSON value, with the schema's names and edge lengths among its strings."""
    strings = (
        st.sampled_from(sorted(words))
        | st.sampled_from([0, 1, 2, 3, 10, 11, 63, 64, 255, 256, 1024, 1025]).map("a".__mul__)
        | st.text(max_size=4)
    )
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-2, max_value=2**64)
        | st.sampled_from([0.0, 1.0, 1.5, -1.0, 1e300, float("inf"), float("nan")])
        | strings
    )
    keys = st.sampled_from(sorted(words)) | st.text(max_size=3)
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=16,
    )


def _near(schema: object, anything: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Values around ``schema``: mostly of its shape, at and past its bounds."""
    if not isinstance(schema, dict):
        return anything
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    options = []
    if "properties" in schema or "object" in kinds:
        extra = schema.get("additionalProperties", True)
        fields = {k: _near(v, anything) for k, v in schema.get("properties", {}).items()}
        required = {k: v for k, v in fields.items() if k in schema.get("required", [])}
        optional = {k: v for k, v in fields.items() if k not in required}
        shaped = st.fixed_dictionaries(required, optional=optional)
        extras = st.dictionaries(st.text(max_size=3), _near(extra, anything), max_size=2)
        options += [shaped] * 4 + [st.builds(lambda a, b: {**b, **a}, shaped, extras)]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if "string" in kinds:
        bounds = {schema.get("minLength", 0), schema.get("maxLength", 300)}
        lengths = sorted({n + d for n in bounds for d in (-1, 0, 1) if n + d >= 0})
        options += [st.sampled_from(lengths).map("é".__mul__), st.text(max_size=8)]
    if "integer" in kinds or "number" in kinds:
        low, high = schema.get("minimum", -(2**63)), schema.get("maximum", 2**63)
        edges = [low - 1, low, high, high + 1]
        options += [st.sampled_from(edges), st.sampled_from([float(v) for v in edges])]
    if "null" in kinds:
        options.append(st.none())
    if "boolean" in kinds:
        options.append(st.booleans())
    # Mostly of the schema's shape; now and then anything at all.
    return st.one_of([*options * 3, anything])


def _quick_checked() -> list[str]:
    """The request schemas that have a quick check (the others go to jsonschema alone)."""
    return sorted(
        name
        for name, schema in _request_schemas().items()
        if validation._validator(schema)[1] is not None
    )


@pytest.mark.parametrize("name", _quick_checked())
def test_the_quick_check_never_accepts_what_jsonschema_refuses(name: str) -> None:
    schema = _request_schemas()[name]
    validator, quick = validation._validator(schema)

    @given(_near(schema, _anything(_words(schema, set()))))
    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    def agrees(instance: object) -> None:
        try:
            quick(instance)
        except Exception:
            return
        assert not list(validator.iter_errors(instance)), instance

    agrees()


def test_the_keypair_bodies_have_a_quick_check() -> None:
    schemas = _request_schemas()
    for name in ("CREATE_V20", "CREATE_V21", "CREATE_V292", "extended.CREATE", "CREATE 1.2"):
        assert validation._validator(schemas[name])[1] is not None, name


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": "^a$"},
        {"type": "object", "properties": {"a": {"type": "integer", "default": 1}}},
        {"enum": [1, True]},
        {"const": 1},
        {"type": "array"},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
    ],
)
def test_schemas_with_other_keywords_are_left_to_jsonschema(schema: dict) -> None:
    assert validation._validator(schema)[1] is None


def test_a_body_the_quick_check_refuses_gets_jsonschemas_message() -> None:
    assert message({"item": {"name": ""}}) == (
        "Invalid input for field/attribute item/name. It may not be empty."
    )
