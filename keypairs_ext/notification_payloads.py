"""The payloads of the extended events: their JSON schemas and builders.

Each schema is the documented contract of one payload's ``nova_object.data``
(the reference page includes them from here); every event is checked
against its schema before it is sent (:meth:`KeypairEvents.extended`).
A new optional field raises a payload's minor version; a changed meaning
or a removed field its major version.
"""

from __future__ import annotations

import datetime
from typing import Any

_TEXT = {"type": "string"}
_OPTIONAL_TEXT = {"type": ["string", "null"]}
_INSTANT = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z?$"}
_OPTIONAL_INSTANT = {"anyOf": [_INSTANT, {"type": "null"}]}
_SHA256 = {"type": "string", "pattern": "^SHA256:[A-Za-z0-9+/]{43}$"}
_TEXTS = {"type": "array", "items": _TEXT}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


# schema: KeypairLifecyclePayload 1.0
KEYPAIR_LIFECYCLE = _object(
    {
        "user_id": _TEXT,
        "name": _TEXT,
        "id": _OPTIONAL_TEXT,
        "fingerprint_sha256": {"anyOf": [_SHA256, {"type": "null"}]},
        "description": _OPTIONAL_TEXT,
        "labels": {"type": "object", "additionalProperties": _TEXT},
        "expires_at": _OPTIONAL_INSTANT,
        "changed": _TEXTS,
    }
)
# end schema

# schema: KeypairExpiredPayload 1.0
KEYPAIR_EXPIRED = _object(
    {
        "user_id": _TEXT,
        "name": _TEXT,
        "id": _OPTIONAL_TEXT,
        "expires_at": _INSTANT,
    }
)
# end schema

# schema: SSHCertificatePayload 1.0
SSH_CERTIFICATE = _object(
    {
        "serial": {"type": "integer", "minimum": 0},
        "project_id": _TEXT,
        "user_id": _TEXT,
        "keypair_name": _TEXT,
        "fingerprint_sha256": _SHA256,
        "requested_by": _TEXT,
        "key_id": _TEXT,
        "principals": _TEXTS,
        "extensions": _TEXTS,
        "critical_options": {"type": "object", "additionalProperties": _TEXT},
        "valid_after": _INSTANT,
        "valid_before": _INSTANT,
        "ca_id": _TEXT,
        "ca_fingerprint_sha256": {"anyOf": [_SHA256, {"type": "null"}]},
        "revoked_at": _OPTIONAL_INSTANT,
        "revoked_by": _OPTIONAL_TEXT,
    }
)
# end schema

# schema: SSHCertificateAuthorityPayload 1.0
SSH_CERTIFICATE_AUTHORITY = _object(
    {
        "id": _TEXT,
        "project_id": _TEXT,
        "generation": {"type": "integer", "minimum": 1},
        "algorithm": _TEXT,
        "public_key": _TEXT,
        "fingerprint_sha256": _SHA256,
        "created_at": _INSTANT,
        "created_by": _TEXT,
        "retired_at": _OPTIONAL_INSTANT,
        "retired_by": _OPTIONAL_TEXT,
    }
)
# end schema

# schema: SSHRevokedKeyPayload 1.0
SSH_REVOKED_KEY = _object(
    {
        "project_id": _TEXT,
        "fingerprint_sha256": _SHA256,
        "public_key": _TEXT,
        "reason": _OPTIONAL_TEXT,
        "created_at": _INSTANT,
        "created_by": _TEXT,
    }
)
# end schema

#: name -> (version, schema of ``nova_object.data``)
PAYLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "KeypairLifecyclePayload": ("1.0", KEYPAIR_LIFECYCLE),
    "KeypairExpiredPayload": ("1.0", KEYPAIR_EXPIRED),
    "SSHCertificatePayload": ("1.0", SSH_CERTIFICATE),
    "SSHCertificateAuthorityPayload": ("1.0", SSH_CERTIFICATE_AUTHORITY),
    "SSHRevokedKeyPayload": ("1.0", SSH_REVOKED_KEY),
}


def _stamp(value: datetime.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def keypair_lifecycle(keypair: Any, labels: dict[str, str], changed: list[str]) -> dict[str, Any]:
    """A keypair's lifecycle facts (keypairs 1.1) and which of them a call changed."""
    return {
        "user_id": keypair.user_id,
        "name": keypair.name,
        "id": keypair.uuid,
        "fingerprint_sha256": keypair.fingerprint_sha256,
        "description": keypair.description,
        "labels": labels,
        "expires_at": _stamp(keypair.expires_at),
        "changed": sorted(changed),
    }


def keypair_expired(row: Any) -> dict[str, Any]:
    """An expired keypair the operators' sweep deleted."""
    return {
        "user_id": row.user_id,
        "name": row.name,
        "id": row.uuid,
        "expires_at": _stamp(row.expires_at),
    }


def ssh_certificate(row: Any, ca: Any) -> dict[str, Any]:
    """An issued certificate's facts; never the CA's key, never the certificate text."""
    return {
        "serial": row.serial,
        "project_id": row.project_id,
        "user_id": row.keypair_user_id,
        "keypair_name": row.keypair_name,
        "fingerprint_sha256": row.key_fingerprint_sha256,
        "requested_by": row.requested_by,
        "key_id": row.key_id,
        "principals": list(row.principals),
        "extensions": list(row.extensions),
        "critical_options": dict(row.critical_options),
        "valid_after": _stamp(row.valid_after),
        "valid_before": _stamp(row.valid_before),
        "ca_id": row.ca_id,
        "ca_fingerprint_sha256": ca.fingerprint_sha256 if ca is not None else None,
        "revoked_at": _stamp(row.revoked_at),
        "revoked_by": row.revoked_by,
    }


def ssh_certificate_authority(ca: Any) -> dict[str, Any]:
    """A CA's public facts; its sealed private key never leaves the database."""
    return {
        "id": ca.id,
        "project_id": ca.project_id,
        "generation": ca.generation,
        "algorithm": ca.algorithm,
        "public_key": ca.public_key,
        "fingerprint_sha256": ca.fingerprint_sha256,
        "created_at": _stamp(ca.created_at),
        "created_by": ca.created_by,
        "retired_at": _stamp(ca.retired_at),
        "retired_by": ca.retired_by,
    }


def ssh_revoked_key(row: Any) -> dict[str, Any]:
    return {
        "project_id": row.project_id,
        "fingerprint_sha256": row.fingerprint_sha256,
        "public_key": row.public_key,
        "reason": row.reason,
        "created_at": _stamp(row.created_at),
        "created_by": row.created_by,
    }
