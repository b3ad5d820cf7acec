"""The extended contract (``OpenStack-API-Version: keypairs 1.0``).

A request opts in beside its compute version.  Within the contract:

* views add ``fingerprint_sha256``, ``algorithm``, ``bits``, ``comment``,
  ``created_at`` and a UUID ``id``;
* generation chooses ``algorithm``, ``bits``, ``private_key_format`` and an
  optional ``passphrase``, at any compute microversion;
* import also reads RFC 4716 and PEM public keys and stores one canonical
  OpenSSH line;
* the list filters by ``fingerprint`` (either form), ``algorithm``, ``type``
  and ``name_prefix``, with the usual paging;
* ``POST /os-keypairs/validate`` returns what an import would store, storing
  nothing.  POST is never valid on a keypair's own URL, so this cannot be
  confused with a keypair named "validate".

Later versions add to it: 1.1, the lifecycle (:mod:`keypairs_ext.api.lifecycle`);
1.2, team keys and several keys per server (:mod:`keypairs_ext.api.sharing`).
Without the opt-in none of this is visible: the compatible API is unchanged.
"""

from __future__ import annotations

from typing import Any

from keypairs_ext import crypto
from keypairs_ext.api import views
from keypairs_ext.exception import Invalid

CONTRACT = "keypairs"
MIN_VERSION = "1.0"
#: description, labels, update, expiry, usage (keypairs_ext.api.lifecycle)
LIFECYCLE_VERSION = "1.1"
#: team keys (visibility) and several keys per server (keypairs_ext.api.sharing)
SHARING_VERSION = "1.2"
#: SSH certificates: project CAs, user certificates, trust on servers, KRL
CERTIFICATES_VERSION = "1.3"
MAX_VERSION = CERTIFICATES_VERSION
DEFAULT_ALGORITHM = "ed25519"
DEFAULT_FORMAT = "openssh"

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}

CREATE = {
    "type": "object",
    "properties": {
        "keypair": {
            "type": "object",
            "properties": {
                "name": _NAME,
                "public_key": {"type": "string"},
                "type": {"type": "string", "enum": ["ssh", "x509"]},
                "user_id": {"type": "string", "minLength": 1, "maxLength": 255},
                "algorithm": {"type": "string", "enum": list(crypto.GENERATABLE_ALGORITHMS)},
                "bits": {"type": "integer"},
                "private_key_format": {"type": "string", "enum": list(crypto.PRIVATE_KEY_FORMATS)},
                "passphrase": {"type": "string", "minLength": 1, "maxLength": 1024},
            },
            "required": ["name"],
            "additionalProperties": False,
        }
    },
    "required": ["keypair"],
    "additionalProperties": False,
}

VALIDATE = {
    "type": "object",
    "properties": {
        "keypair": {
            "type": "object",
            "properties": {
                "public_key": {"type": "string"},
                "type": {"type": "string", "enum": ["ssh", "x509"]},
            },
            "required": ["public_key"],
            "additionalProperties": False,
        }
    },
    "required": ["keypair"],
    "additionalProperties": False,
}

GENERATION_ONLY = ("algorithm", "bits", "private_key_format", "passphrase")
LIST_FILTERS = ("fingerprint", "algorithm", "type", "name_prefix")
LIST_PARAMS = ("user_id", "limit", "marker", *LIST_FILTERS)


def check_list_query(query: list[tuple[str, str]], extra: tuple[str, ...] = ()) -> dict[str, str]:
    """The extended list's parameters (and ``extra`` ones); anything else is a 400."""
    params: dict[str, str] = {}
    for name, value in query:
        if name not in LIST_PARAMS and name not in extra:
            raise Invalid(f"Additional properties are not allowed ('{name}' was unexpected)")
        params[name] = value
    if "limit" in params and not params["limit"].isdigit():
        raise Invalid(f"Invalid input for query parameters limit. Value: {params['limit']}.")
    if "algorithm" in params and params["algorithm"] not in crypto.ALGORITHMS:
        raise Invalid(
            f"Invalid input for query parameters algorithm. Value: {params['algorithm']}. "
            f"Expected one of: {', '.join(crypto.ALGORITHMS)}."
        )
    if "type" in params and params["type"] not in ("ssh", "x509"):
        raise Invalid(f"Invalid input for query parameters type. Value: {params['type']}.")
    return params


def facts(parsed: crypto.PublicKey) -> dict[str, Any]:
    """The extended columns of a keypair, from its parsed public key."""
    return {
        "fingerprint_sha256": parsed.fingerprint_sha256,
        "algorithm": parsed.algorithm,
        "bits": parsed.bits,
        "comment": parsed.comment,
    }


def add_facts(view: dict[str, Any], keypair: Any) -> dict[str, Any]:
    """A compatible view plus the extended fields; ``id`` becomes the UUID."""
    view.update(
        {
            "id": keypair.uuid,
            "fingerprint_sha256": keypair.fingerprint_sha256,
            "algorithm": keypair.algorithm,
            "bits": keypair.bits,
            "comment": keypair.comment,
            "created_at": views.timestamp(keypair.created_at),
        }
    )
    return view


def validated(parsed: crypto.PublicKey, key_type: str, public_text: str) -> dict[str, Any]:
    return {
        "keypair": {
            "public_key": public_text,
            "type": key_type,
            "fingerprint": parsed.fingerprint,
            **facts(parsed),
        }
    }
