"""Response bodies of os-keypairs, per microversion.

A create response, less ``private_key`` and ``user_id``, equals the list
entry of the same keypair; show adds the record fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from keypairs_ext.host.contract import ApiRequest, Version


def timestamp(value: Any) -> str | None:
    """A stored time as the API shows a record's: ``2026-12-06T08:29:00.123456``."""
    # Stored timestamps are naive UTC: isoformat writes them as
    # strftime("%Y-%m-%dT%H:%M:%S.%f") would, in a third of the time.
    return value.isoformat(timespec="microseconds") if value else None


def summary(keypair: Any, version: Version, legacy: bool) -> dict[str, Any]:
    view = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
    }
    if not legacy and version.matches("2.2"):
        view["type"] = keypair.type
    return view


def created(keypair: Any, version: Version, legacy: bool, private_key: str | None) -> dict:
    view = summary(keypair, version, legacy)
    view["user_id"] = keypair.user_id
    if private_key is not None:
        view["private_key"] = private_key
    return {"keypair": view}


def shown(keypair: Any, version: Version, legacy: bool) -> dict:
    view = summary(keypair, version, legacy)
    view.update(
        {
            "user_id": keypair.user_id,
            "id": keypair.id,
            "created_at": timestamp(keypair.created_at),
            "updated_at": timestamp(keypair.updated_at),
            "deleted": False,
            "deleted_at": None,
        }
    )
    return {"keypair": view}


def listed(request: ApiRequest, keypairs: Sequence[Any], page_limit: int | None) -> dict[str, Any]:
    # summary() per item, unrolled: a list holds up to [api] max_limit items.
    if not request.legacy and request.version.matches("2.2"):
        items = [
            {
                "keypair": {
                    "name": k.name,
                    "public_key": k.public_key,
                    "fingerprint": k.fingerprint,
                    "type": k.type,
                }
            }
            for k in keypairs
        ]
    else:
        items = [
            {"keypair": {"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint}}
            for k in keypairs
        ]
    body: dict[str, Any] = {"keypairs": items}
    if page_limit is not None and keypairs and len(keypairs) == page_limit:
        body["keypairs_links"] = [{"rel": "next", "href": next_href(request, keypairs[-1].name)}]
    return body


def next_href(request: ApiRequest, marker: str) -> str:
    """The request's own URL and query, with ``marker`` set to the last name."""
    params = [(k, v) for k, v in request.query if k != "marker"]
    params.append(("marker", marker))
    return f"{request.url}?{urlencode(params)}"
