"""Compute microversion negotiation (and extension contract versions)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import microversion_parse

from keypairs_ext.host.contract import Invalid, NotAcceptable, Version

MIN_VERSION = Version(2, 1)
LEGACY_VERSION = Version(2, 0)
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
STANDARD_HEADER = "OpenStack-API-Version"
VARY = f"{STANDARD_HEADER}, {LEGACY_HEADER}"
# The two headers' keys in a WSGI environ.
STANDARD_ENVIRON = "HTTP_OPENSTACK_API_VERSION"
LEGACY_ENVIRON = "HTTP_X_OPENSTACK_NOVA_API_VERSION"

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


def _present(standard: str | None, legacy: str | None) -> dict[str, str]:
    headers = {}
    if standard is not None:
        headers[STANDARD_HEADER] = standard
    if legacy is not None:
        headers[LEGACY_HEADER] = legacy
    return headers


def negotiate_values(standard: str | None, legacy: str | None, max_version: Version) -> Version:
    """:func:`negotiate` for the values of the two version headers (None: absent)."""
    return negotiate(_present(standard, legacy), max_version)


def negotiate_contracts(
    standard: str | None, contracts: Sequence[tuple[str, Version, Version]]
) -> tuple[tuple[str, Version], ...]:
    """(name, version) of each contract of ``contracts`` (name, low, high)
    that the standard header's value asks for, in the order of ``contracts``."""
    headers = _present(standard, None)
    found = []
    for name, low, high in contracts:
        version = negotiate_contract(headers, name, low, high)
        if version is not None:
            found.append((name, version))
    return tuple(found)


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
