"""The check of extended payloads against their documented schemas."""

from __future__ import annotations

import jsonschema
import pytest

from keypairs_ext import notifications
from keypairs_ext.host.contract import Notifier

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "pattern": "^k"}, "n": {"type": "integer"}},
    "required": ["name"],
}


def test_a_payload_is_checked_as_jsonschema_validate_does() -> None:
    notifications._check_payload(SCHEMA, {"name": "k1", "n": 1})
    for wrong in ({"name": "x1", "n": "one"}, {"n": 1}, {"name": 1}):
        with pytest.raises(jsonschema.ValidationError) as ours:
            notifications._check_payload(SCHEMA, wrong)
        with pytest.raises(jsonschema.ValidationError) as theirs:
            jsonschema.validate(wrong, SCHEMA)
        assert str(ours.value) == str(theirs.value)


def test_a_wrong_schema_still_fails() -> None:
    with pytest.raises(jsonschema.SchemaError):
        notifications._check_payload({"type": "no such type"}, {})


def test_every_registered_payload_schema_is_a_valid_schema() -> None:
    events = notifications.KeypairEvents(Notifier(), extended=False)
    for name, (_, schema) in notifications.EXTENDED_PAYLOADS.items():
        jsonschema.validators.validator_for(schema).check_schema(schema)
        with pytest.raises(jsonschema.ValidationError):
            events.extended(None, "keypair.test", name, {})
