"""Validation messages: compute's pattern, said in words where jsonschema speaks Python."""

from __future__ import annotations

import pytest

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
