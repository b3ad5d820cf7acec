"""Version discovery documents (``GET /``, ``/v2.1/``, ``/v2/``)."""

from __future__ import annotations

from typing import Any

from keypairs_ext.host.contract import Version
from keypairs_ext.host.microversion import MIN_VERSION

V21_UPDATED = "2013-07-23T11:33:21Z"
V20_UPDATED = "2025-07-04T12:00:00Z"


def _v21(base: str, max_version: Version) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(max_version),
        "min_version": str(MIN_VERSION),
        "updated": V21_UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
    }


def _v20(base: str) -> dict[str, Any]:
    return {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": V20_UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v2/"}],
    }


def _media_types(name: str) -> list[dict[str, str]]:
    return [
        {
            "base": "application/json",
            "type": f"application/vnd.openstack.compute+json;version={name}",
        }
    ]


def _describedby() -> dict[str, str]:
    return {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}


def root(base: str, max_version: Version) -> dict[str, Any]:
    return {"versions": [_v20(base), _v21(base, max_version)]}


def v21(base: str, max_version: Version) -> dict[str, Any]:
    doc = _v21(base, max_version)
    doc["links"].append(_describedby())
    doc["media-types"] = _media_types("2.1")
    return {"version": doc}


def v20(base: str) -> dict[str, Any]:
    doc = _v20(base)
    doc["links"].append(_describedby())
    doc["media-types"] = _media_types("2")
    return {"version": doc}
