"""Strict response schemas of os-keypairs, per compute microversion.

Modelled on Tempest's ``tempest/lib/api_schema/response/compute/v2_*/
keypairs.py``: each operation is ``{"status_code": [...], "response_body":
schema}`` and every object is ``additionalProperties: false``, which is how
strict clients (Tempest, and SDKs generated from these shapes) validate the
API.  A field the compatible API adds at the wrong microversion, or a
missing one, fails here.

Versions: 2.1 (the base), 2.2 (``type``; create 201, delete 204), 2.10
(``user_id`` in requests only: same bodies), 2.35 (``keypairs_links`` on
full pages), 2.75 (strict query parameters: same bodies), 2.92 (import only:
create never returns ``private_key``).  ``V2_0`` is the legacy ``/v2`` and
``/v1.1`` dialect, whose JSON bodies are those of 2.1.

Where Tempest has a bare ``string``, the fields here carry the formats the
SPEC promises (fingerprint, timestamp), so the schemas double as a check of
those formats.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from tests.support import version_key

#: lowercase colon-separated MD5 (16 bytes, SSH) or SHA-1 (20 bytes, x509)
FINGERPRINT_PATTERN = r"^[0-9a-f]{2}(:[0-9a-f]{2}){15}$|^[0-9a-f]{2}(:[0-9a-f]{2}){19}$"
#: ``YYYY-MM-DDTHH:MM:SS.ffffff`` (UTC, no zone suffix), as OpenStack Compute
DATE_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$"

_STRING = {"type": "string"}
_FINGERPRINT = {"type": "string", "pattern": FINGERPRINT_PATTERN}
_DATE_TIME = {"type": "string", "pattern": DATE_TIME_PATTERN}
_NULL = {"type": "null"}
_TYPE = {"type": "string", "enum": ["ssh", "x509"]}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": required,
    }


def _wrapped(inner: dict[str, Any]) -> dict[str, Any]:
    return _object({"keypair": inner}, ["keypair"])


# --- 2.1 ---------------------------------------------------------------------

_SUMMARY = {"name": _STRING, "public_key": _STRING, "fingerprint": _FINGERPRINT}

V2_1: dict[str, dict[str, Any]] = {
    "get_keypair": {
        "status_code": [200],
        "response_body": _wrapped(
            _object(
                {
                    **_SUMMARY,
                    "user_id": _STRING,
                    "id": {"type": "integer"},
                    "created_at": _DATE_TIME,
                    # OpenStack Compute never updates or soft-deletes a
                    # keypair it shows: these three are constants.
                    "updated_at": _NULL,
                    "deleted": {"type": "boolean", "const": False},
                    "deleted_at": _NULL,
                },
                [*_SUMMARY, "user_id", "id", "created_at", "updated_at", "deleted", "deleted_at"],
            )
        ),
    },
    "create_keypair": {
        "status_code": [200],
        "response_body": _wrapped(
            _object(
                # private_key only for generated keys: not required.
                {**_SUMMARY, "user_id": _STRING, "private_key": _STRING},
                [*_SUMMARY, "user_id"],
            )
        ),
    },
    "delete_keypair": {"status_code": [202]},
    "list_keypairs": {
        "status_code": [200],
        "response_body": _object(
            {
                "keypairs": {
                    "type": "array",
                    "items": _wrapped(_object(dict(_SUMMARY), list(_SUMMARY))),
                }
            },
            ["keypairs"],
        ),
    },
}


def _derive(base: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return copy.deepcopy(base)


def _keypair_object(schema: dict[str, Any], operation: str) -> dict[str, Any]:
    body = schema[operation]["response_body"]
    if operation == "list_keypairs":
        return body["properties"]["keypairs"]["items"]["properties"]["keypair"]
    return body["properties"]["keypair"]


# --- 2.2: type; create 201, delete 204 -------------------------------------------

V2_2 = _derive(V2_1)
for _operation in ("get_keypair", "create_keypair", "list_keypairs"):
    _inner = _keypair_object(V2_2, _operation)
    _inner["properties"]["type"] = _TYPE
    _inner["required"].append("type")
V2_2["create_keypair"]["status_code"] = [201]
V2_2["delete_keypair"]["status_code"] = [204]

# --- 2.10: user_id in requests; bodies unchanged -----------------------------------

V2_10 = _derive(V2_2)

# --- 2.35: keypairs_links on a full page ---------------------------------------------

V2_35 = _derive(V2_10)
V2_35["list_keypairs"]["response_body"]["properties"]["keypairs_links"] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1,
    "items": _object(
        {"rel": {"type": "string", "const": "next"}, "href": {"type": "string", "format": "uri"}},
        ["rel", "href"],
    ),
}

# --- 2.75: strict query parameters; bodies unchanged --------------------------------

V2_75 = _derive(V2_35)

# --- 2.92: import only, so no private_key -------------------------------------------

V2_92 = _derive(V2_75)
del _keypair_object(V2_92, "create_keypair")["properties"]["private_key"]

# --- legacy /v2 and /v1.1 (JSON) -----------------------------------------------------

V2_0 = _derive(V2_1)

#: microversion -> schemas, in increasing order
SCHEMAS: dict[tuple[int, int], dict[str, dict[str, Any]]] = {
    (2, 0): V2_0,
    (2, 1): V2_1,
    (2, 2): V2_2,
    (2, 10): V2_10,
    (2, 35): V2_35,
    (2, 75): V2_75,
    (2, 92): V2_92,
}

#: A compute fault: one named member with code and message, nothing else.
FAULT = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "patternProperties": {
        "^(badRequest|unauthorized|forbidden|itemNotFound|badMethod|"
        "conflictingRequest|overLimit|badMediaType|notImplemented|"
        "serviceUnavailable|computeFault)$": _object(
            {"code": {"type": "integer"}, "message": {"type": "string"}},
            ["code", "message"],
        )
    },
    "additionalProperties": False,
}


def schema_for(operation: str, version: str) -> dict[str, Any]:
    """The schema of ``operation`` at ``version`` ("2.0" is the legacy dialect)."""
    wanted = version_key(version)
    chosen = max(key for key in SCHEMAS if key <= wanted)
    return SCHEMAS[chosen][operation]


def validate_body(body: Any, schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(body)


def check(operation: str, version: str, response: Any) -> Any:
    """Assert ``response`` (a webob response) is ``operation`` at ``version``.

    Returns the decoded body (None for a body-less response).
    """
    schema = schema_for(operation, version)
    assert response.status_int in schema["status_code"], (
        f"{operation} at {version}: {response.status} {response.body[:500]!r}"
    )
    if "response_body" not in schema:
        assert response.body == b"", response.body
        return None
    body = response.json
    validate_body(body, schema["response_body"])
    return body
