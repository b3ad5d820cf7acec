"""The OpenAPI description of the host (doc/source/_static/openapi.yaml).

Two things keep it honest: its (method, path) set is the running host's
route table, exactly; and schemathesis generates requests from it, valid
and invalid, against the in-process WSGI app, on SQLite for speed.  Every
response must be no 5xx, conform to the documented status codes, content
types and body schemas, and every error must be a compute fault envelope.
Microversions vary through the documented header parameters.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import zlib
from typing import Any
from xml.etree import ElementTree

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Client

SPEC = pathlib.Path(__file__).parents[2] / "doc" / "source" / "_static" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
TOKEN = "user1:project1"
PROJECT = "project1"
SEEDED_KEY = "seeded-key"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAL327/Y0kiGn/59+Wd9IjFp9HvNwUMslPiQeF8rrNi test"
FAULT_NAMES = {
    "badRequest",
    "unauthorized",
    "forbidden",
    "itemNotFound",
    "badMethod",
    "conflictingRequest",
    "overLimit",
    "badMediaType",
    "serviceUnavailable",
    "computeFault",
    "notImplemented",
}

# Valid and invalid data ("all"); the examples, coverage (boundary values,
# missing and undocumented parameters, undocumented methods) and fuzzing
# phases; no stateful phase (each operation runs against its own host).
SCHEMA = schemathesis.openapi.from_path(
    SPEC,
    config=schemathesis.Config.from_dict(
        {"generation": {"mode": "all"}, "phases": {"stateful": {"enabled": False}}}
    ),
)


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """SQLite only: the generated requests are many, the backends covered elsewhere."""
    return f"sqlite:///{tmp_path}/keypairs.sqlite"


# --- the document and the routes ------------------------------------------------


def test_openapi_is_valid_openapi_3_1():
    SCHEMA.validate()
    assert SCHEMA.raw_schema["openapi"] == "3.1.0"


def test_openapi_describes_exactly_the_routes_served(host):
    document = yaml.safe_load(SPEC.read_text())
    described = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    ]
    assert sorted(described) == sorted(host.compute.route_table())


# --- the host honours the document ------------------------------------------------


def _fault_of(response: schemathesis.Response) -> tuple[str, dict[str, Any]]:
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if media == "application/xml":
        root = ElementTree.fromstring(response.content)
        name = root.tag.rsplit("}", 1)[-1]
        inner = {child.tag.rsplit("}", 1)[-1]: child.text for child in root}
        if "code" in inner:
            inner["code"] = int(inner["code"] or "")
        return name, inner
    assert media == "application/json", f"a fault must be JSON (or legacy XML), not {media!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and len(body) == 1, f"not a fault envelope: {body!r}"
    ((name, inner),) = body.items()
    return name, inner


def compute_fault(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """Every 4xx/5xx body is ``{<fault name>: {"code": <status>, "message": str}}``."""
    if response.status_code < 400:
        return
    name, inner = _fault_of(response)
    assert name in FAULT_NAMES, f"unknown fault name {name!r}"
    assert isinstance(inner, dict) and set(inner) == {"code", "message"}, inner
    assert inner["code"] == response.status_code, inner
    assert isinstance(inner["message"], str) and inner["message"], inner
    assert "Traceback" not in inner["message"], inner


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    compute_fault,
]


@dataclasses.dataclass
class Seeded:
    host: Any
    server_id: str


@pytest.fixture
def seeded(host: Any) -> Seeded:
    """A host with one keypair and one server of the caller, for the paths to find."""
    client = Client(host.api, TOKEN)
    created = client.post(
        "/v2.1/os-keypairs", {"keypair": {"name": SEEDED_KEY, "public_key": PUBLIC_KEY}}
    )
    assert created.status_int == 200, created.body
    server = client.post(
        "/v2.1/servers",
        {"server": {"name": "vm1", "imageRef": "cirros", "flavorRef": "1", "key_name": SEEDED_KEY}},
    )
    assert server.status_int == 202, server.body
    return Seeded(host, server.json["server"]["id"])


def _aim(case: Any, seeded: Seeded) -> None:
    """Point most generated path parameters at what exists (the rest stay random)."""
    params = case.path_parameters
    if not params:
        return
    existing = {"project_id": PROJECT, "server_id": seeded.server_id, "name": SEEDED_KEY}
    for name, value in list(params.items()):
        if name in existing and isinstance(value, str) and zlib.crc32(value.encode()) % 4:
            params[name] = existing[name]


# One pytest item per operation, each with its own node id: schemathesis'
# own parametrization gives all its items one id, which pytest-xdist's
# grouped scheduling collapses into a single item.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_host_honours_its_openapi(operation: Any, seeded: Seeded) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        _aim(case, seeded)
        case.call_and_validate(app=seeded.host.api, headers={"X-Auth-Token": TOKEN}, checks=CHECKS)

    check()
