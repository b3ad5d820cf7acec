"""Compute microversion negotiation (and extension contract versions)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import microversion_parse

from keypairs_ext.host.contract import Invalid, NotAcceptable, Version

MIN_VERSION = Version(2, 1)
LEGACY_VERSION = Version(2, 0)
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
STANDARD_HEADER = "OpenStack-API-Version"
VARY = f"{STANDARD_HEADER}, {LEGACY_HEADER}"

_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
# No version has more digits; and int() refuses a string of more than 4300.
_MAX_DIGITS = 9


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


def parse(text: str) -> Version:
    """``X.Y`` as a Version; a number too long for any version stands for a huge one."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise Invalid(
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        )
    return Version(_number(match.group(1)), _number(match.group(2)))


def _requested(headers: Mapping[str, str], service: str, legacy: list[str]) -> str | None:
    try:
        return microversion_parse.get_version(cast(Any, headers), service, legacy_headers=legacy)
    except ValueError:
        return None


def version_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The only headers a version is read from, out of a request's headers.

    microversion_parse folds *every* header of the request into a new dict
    on each call (twice per request here: compute, then the contracts); with
    webob's environ-backed headers that walk cost more than the negotiation.
    ``headers.get`` is case-insensitive on webob's headers.
    """
    found = {}
    for name in (STANDARD_HEADER, LEGACY_HEADER):
        value = headers.get(name)
        if value is not None:
            found[name] = value
    return found


def negotiate(headers: Mapping[str, str], max_version: Version) -> Version:
    """The compute version a request asks for: 2.1 when absent."""
    requested = _requested(headers, "compute", [LEGACY_HEADER])
    if requested is None:
        return MIN_VERSION
    if requested.strip() == "latest":
        return max_version
    version = parse(requested)
    if not MIN_VERSION <= version <= max_version:
        raise NotAcceptable(
            f"Version {requested.strip()} is not supported by the API. Minimum is "
            f"{MIN_VERSION} and maximum is {max_version}."
        )
    return version


def negotiate_contract(
    headers: Mapping[str, str], name: str, low: Version, high: Version
) -> Version | None:
    """The version of an extension contract ``name`` asked for, if any."""
    requested = _requested(headers, name, [])
    if requested is None:
        return None
    if requested.strip() == "latest":
        return high
    version = parse(requested)
    if not low <= version <= high:
        raise NotAcceptable(
            f"Version {name} {requested.strip()} is not supported. "
            f"Minimum is {low} and maximum is {high}."
        )
    return version


def response_headers(version: Version) -> dict[str, str]:
    return {
        STANDARD_HEADER: f"compute {version}",
        LEGACY_HEADER: str(version),
        "Vary": VARY,
    }
