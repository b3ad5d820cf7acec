"""Request schemas of os-keypairs, per microversion (as OpenStack Compute).

Names are checked by :func:`check_name` rather than a schema ``pattern``:
JSON-schema patterns are searched, and ``$`` would let a trailing newline
through.
"""

from __future__ import annotations

import re
from typing import Any

from keypairs_ext.exception import Invalid
from keypairs_ext.host.contract import Version

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
_PUBLIC_KEY = {"type": "string"}
_TYPE = {"type": "string", "enum": ["ssh", "x509"]}
_USER_ID = {"type": "string", "minLength": 1, "maxLength": 255}


def _create(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "keypair": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        },
        "required": ["keypair"],
        "additionalProperties": False,
    }


CREATE_V21 = _create({"name": _NAME, "public_key": _PUBLIC_KEY}, ["name"])
CREATE_V22 = _create({"name": _NAME, "public_key": _PUBLIC_KEY, "type": _TYPE}, ["name"])
CREATE_V210 = _create(
    {"name": _NAME, "public_key": _PUBLIC_KEY, "type": _TYPE, "user_id": _USER_ID}, ["name"]
)
CREATE_V292 = _create(
    {"name": _NAME, "public_key": _PUBLIC_KEY, "type": _TYPE, "user_id": _USER_ID},
    ["name", "public_key"],
)
# Compute's text (Tempest matches on it), then why: generation ended at 2.91.
PUBLIC_KEY_REQUIRED = "'public_key' is a required property"
PUBLIC_KEY_REQUIRED_FROM_292 = (
    f"{PUBLIC_KEY_REQUIRED}: from microversion 2.92 a key pair is imported, "
    "not generated; send public_key, or request microversion 2.91 or lower "
    "to have a key pair generated"
)
# Legacy v2: what must be there, with anything else tolerated.
CREATE_V20 = {
    "type": "object",
    "properties": {
        "keypair": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "public_key": _PUBLIC_KEY},
            "required": ["name"],
        }
    },
    "required": ["keypair"],
}


def create_schema(version: Version, legacy: bool) -> dict[str, Any]:
    if legacy:
        return CREATE_V20
    if version.matches("2.92"):
        return CREATE_V292
    if version.matches("2.10"):
        return CREATE_V210
    if version.matches("2.2"):
        return CREATE_V22
    return CREATE_V21


# Query parameters each operation accepts from a microversion on; from 2.75
# anything else is a 400.
_INDEX_PARAMS = (("user_id", "2.10"), ("limit", "2.35"), ("marker", "2.35"))
_MEMBER_PARAMS = (("user_id", "2.10"),)
STRICT_QUERY_FROM = "2.75"


def check_query(query: list[tuple[str, str]], version: Version, index: bool) -> dict[str, str]:
    """The recognised query parameters (last value wins)."""
    if not query:  # most member calls
        return {}
    known = {
        name
        for name, since in (_INDEX_PARAMS if index else _MEMBER_PARAMS)
        if version.matches(since)
    }
    params: dict[str, str] = {}
    for name, value in query:
        if name in known:
            params[name] = value
        elif version.matches(STRICT_QUERY_FROM):
            raise Invalid(f"Additional properties are not allowed ('{name}' was unexpected)")
    if "limit" in params:
        limit = params["limit"]
        if not re.fullmatch(r"[0-9]+", limit):
            raise Invalid(
                f"Invalid input for query parameters limit. Value: {limit}. "
                f"'{limit}' does not match '^[0-9]*$'"
            )
        if len(limit.lstrip("0")) > 18:
            # Beyond any page size, which caps it anyway; and int() refuses
            # strings of more than 4300 digits.
            params["limit"] = str(2**63 - 1)
    return params


_NAME_BEFORE_292 = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9 _-]*[A-Za-z0-9_-])?")
_NAME_FROM_292 = re.compile(r"[A-Za-z0-9@._-](?:[A-Za-z0-9 @._-]*[A-Za-z0-9@._-])?")
_ALLOWED_BEFORE_292 = "letters, digits, '_', '-' and inner spaces"
_ALLOWED_FROM_292 = "letters, digits, '_', '-', '@', '.' and inner spaces"


def check_name(name: str, version: Version) -> None:
    """Raise Invalid unless ``name`` (whole string) is a keypair name at ``version``."""
    if version.matches("2.92"):
        pattern, allowed = _NAME_FROM_292, _ALLOWED_FROM_292
    else:
        pattern, allowed = _NAME_BEFORE_292, _ALLOWED_BEFORE_292
    if not pattern.fullmatch(name):
        raise Invalid(
            f"Invalid input for field/attribute name. Value: {name!r}. A key pair "
            f"name may contain only {allowed}, and may not start or end with a space."
        )


def check_user_id(user_id: str) -> None:
    """Raise Invalid unless ``user_id`` could be a user's id.

    Ids come from the identity service: printable text.  A control
    character (NUL above all, which PostgreSQL cannot store) or a lone
    surrogate is a malformed request, not a user without keypairs.
    """
    try:
        user_id.encode("utf-8")
    except UnicodeEncodeError:
        valid = False
    else:
        valid = not any(c < " " or c == "\x7f" for c in user_id)
    if not valid:
        raise Invalid(
            "Invalid input for field/attribute user_id. A user id may not "
            "contain control characters or invalid Unicode."
        )


def check_legacy_name(name: str) -> str:
    """The v2 rules: stripped, 1-255 characters, safe characters only."""
    name = name.strip()
    if not 1 <= len(name) <= 255:
        raise Invalid("Keypair name must be string and between 1 and 255 characters long")
    if not _NAME_BEFORE_292.fullmatch(name):
        raise Invalid("Keypair name contains unsafe characters")
    return name
