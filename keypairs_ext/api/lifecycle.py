"""The lifecycle of a keypair (keypairs 1.1): description, labels, expiry, usage.

* ``description`` (up to 255 characters) and ``labels`` (Kubernetes-style
  ``key: value`` pairs) on import, generate and update;
* ``expires_at`` (RFC 3339, stored in whole seconds, UTC) or ``expires_in``
  (seconds from now), capped by ``[keypairs] max_key_lifetime``; after it a
  server create or rebuild with the key is refused, the key stays listed
  and the view says ``expired: true``;
* the view counts the servers that use the key (``server_count``) and
  ``GET /os-keypairs/{name}/servers`` lists them;
* ``PUT /os-keypairs/{name}`` changes description, labels and expiry (only
  the fields given, as Compute's ``PUT /servers/{id}`` does);
* an extended delete of a key in use is a 409 unless ``?force=true``;
* the extended list filters by ``expired``, ``in_use`` and ``labels``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from keypairs_ext.exception import Invalid
from keypairs_ext.host.contract import Version, storable

MAX_LABELS = 32
MAX_LIFETIME_SECONDS = 100 * 365 * 24 * 3600  # beyond any database's DATETIME

_LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
)


def _label_key_ok(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return bool(_LABEL_NAME.fullmatch(name))


DESCRIPTION = {"type": ["string", "null"], "maxLength": 255}
LABELS = {
    "type": "object",
    "maxProperties": MAX_LABELS,
    "additionalProperties": {"type": "string", "maxLength": 63},
}
EXPIRES_AT = {"type": ["string", "null"], "minLength": 1, "maxLength": 64}
EXPIRES_IN = {"type": "integer", "minimum": 1, "maximum": MAX_LIFETIME_SECONDS}
CREATE_PROPERTIES = {
    "description": DESCRIPTION,
    "labels": LABELS,
    "expires_at": EXPIRES_AT,
    "expires_in": EXPIRES_IN,
}


def with_lifecycle(create_schema: dict[str, Any]) -> dict[str, Any]:
    """The extended create schema with the lifecycle fields (keypairs 1.1)."""
    keypair = create_schema["properties"]["keypair"]
    return {
        **create_schema,
        "properties": {
            "keypair": {
                **keypair,
                "properties": {**keypair["properties"], **CREATE_PROPERTIES},
            }
        },
    }


UPDATE = {
    "type": "object",
    "properties": {
        "keypair": {
            "type": "object",
            "properties": CREATE_PROPERTIES,
            "additionalProperties": False,
            "minProperties": 1,
        }
    },
    "required": ["keypair"],
    "additionalProperties": False,
}

LIST_FILTERS = ("expired", "in_use", "labels")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def now() -> datetime.datetime:
    """Naive UTC, whole seconds: the precision of ``expires_at``."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


def timestamp(value: datetime.datetime | None) -> str | None:
    """RFC 3339 in UTC, as ``expires_at`` is shown."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def is_expired(expires_at: datetime.datetime | None, at: datetime.datetime | None = None) -> bool:
    return expires_at is not None and expires_at <= (at or now())


def check_labels(labels: Mapping[str, str]) -> str | None:
    """Validate ``labels``; return their stored form ``,k=v,k2=v2,`` (None when empty)."""
    for key, value in labels.items():
        if not _label_key_ok(key):
            raise Invalid(
                f"Invalid label key {key!r}: a name of up to 63 letters, digits, '-', '_' "
                "and '.' that starts and ends with a letter or digit, optionally after a "
                "DNS subdomain prefix and '/' (for example 'example.com/team')."
            )
        if value and not _LABEL_NAME.fullmatch(value):
            raise Invalid(
                f"Invalid value {value!r} of label {key!r}: up to 63 letters, digits, '-', "
                "'_' and '.', starting and ending with a letter or digit, or empty."
            )
    if not labels:
        return None
    return "," + ",".join(f"{k}={labels[k]}" for k in sorted(labels)) + ","


def parse_labels(stored: str | None) -> dict[str, str]:
    if not stored:
        return {}
    return dict(pair.split("=", 1) for pair in stored.strip(",").split(","))


def check_description(description: str | None) -> str | None:
    if description is not None and not storable(description):
        raise Invalid("Invalid description: it contains a character that cannot be stored.")
    return description


def parse_time(text: str) -> datetime.datetime:
    """An RFC 3339 time with its offset, as naive UTC in whole seconds."""
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or "T" not in text.upper():
        raise Invalid(
            f"Invalid expires_at {text!r}: expected an RFC 3339 time with its offset, "
            "for example 2030-01-31T18:00:00Z."
        )
    return value.astimezone(datetime.UTC).replace(tzinfo=None, microsecond=0)


def expiry(body: Mapping[str, Any], max_lifetime: int, creating: bool) -> tuple[bool, Any]:
    """``(given, expires_at)`` from ``expires_at``/``expires_in`` in ``body``.

    With ``[keypairs] max_key_lifetime`` set, a new key without an expiry
    gets the longest one allowed and no expiry may lie beyond it.
    """
    if "expires_at" in body and "expires_in" in body:
        raise Invalid("Give expires_at or expires_in, not both.")
    start = now()
    if "expires_in" in body:
        value: datetime.datetime | None = start + datetime.timedelta(seconds=body["expires_in"])
    elif "expires_at" in body:
        value = parse_time(body["expires_at"]) if body["expires_at"] is not None else None
        if value is not None and value <= start:
            raise Invalid(
                f"Invalid expires_at {body['expires_at']}: it is not in the future "
                f"(now is {timestamp(start)})."
            )
    elif creating and max_lifetime:
        return True, start + datetime.timedelta(seconds=max_lifetime)
    else:
        return False, None
    if max_lifetime:
        latest = start + datetime.timedelta(seconds=max_lifetime)
        if value is None:
            raise Invalid(
                f"This cloud requires every key pair to expire within {max_lifetime} seconds: "
                "expires_at cannot be removed."
            )
        if value > latest:
            raise Invalid(
                f"Invalid expiry {timestamp(value)}: this cloud allows key pairs to live at "
                f"most {max_lifetime} seconds (until {timestamp(latest)})."
            )
    elif value is not None and value > start + datetime.timedelta(seconds=MAX_LIFETIME_SECONDS):
        raise Invalid(f"Invalid expiry {timestamp(value)}: more than 100 years ahead.")
    return True, value


def changes(body: Mapping[str, Any], max_lifetime: int, creating: bool) -> dict[str, Any]:
    """Column values for the lifecycle fields given in a create or update body."""
    values: dict[str, Any] = {}
    if "description" in body:
        values["description"] = check_description(body["description"])
    if "labels" in body:
        values["labels"] = check_labels(body["labels"])
    given, expires_at = expiry(body, max_lifetime, creating)
    if given:
        values["expires_at"] = expires_at
    return values


def check_list_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """``expired`` and ``in_use`` as booleans; ``labels`` as the wanted pairs."""
    filters: dict[str, Any] = {}
    for name in ("expired", "in_use"):
        if name in params:
            wanted = _BOOLEANS.get(params[name].lower())
            if wanted is None:
                raise Invalid(
                    f"Invalid input for query parameters {name}. Value: {params[name]}. "
                    "Expected true or false."
                )
            filters[name] = wanted
    if "labels" in params:
        pairs: dict[str, str] = {}
        for term in params["labels"].split(","):
            key, sep, value = term.partition("=")
            if not sep:
                raise Invalid(
                    f"Invalid label selector {params['labels']!r}: expected key=value pairs "
                    "separated by commas, for example env=prod,team=db."
                )
            pairs[key] = value
        check_labels(pairs)
        filters["labels"] = pairs
    return filters


def split_force(query: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bool]:
    """The extended delete's ``force`` (true/false), and the rest of the query."""
    rest = [(k, v) for k, v in query if k != "force"]
    values = [v for k, v in query if k == "force"]
    if not values:
        return rest, False
    force = _BOOLEANS.get(values[-1].lower())
    if force is None:
        raise Invalid(
            f"Invalid input for query parameters force. Value: {values[-1]}. "
            "Expected true or false."
        )
    return rest, force


def view_fields(keypair: Any, server_count: int, at: datetime.datetime) -> dict[str, Any]:
    """What keypairs 1.1 adds to an extended view."""
    return {
        "description": keypair.description,
        "labels": parse_labels(keypair.labels),
        "expires_at": timestamp(keypair.expires_at),
        "expired": is_expired(keypair.expires_at, at),
        "server_count": server_count,
    }


def applies(version: Version | None, since: str) -> bool:
    return version is not None and version.matches(since)
