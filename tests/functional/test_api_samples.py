"""The API reference samples are what the running code sends and answers.

Each microversion has a scenario: a list of calls whose request bodies are
the request samples in ``doc/source/reference/samples`` and whose responses
must match the response samples: the same keys and structure, equal values,
except fields that differ on every run (generated keys, ids, timestamps),
which must match a pattern in the sample and in the response alike.  Every
sample is used by a scenario, every response sample passes the strict
schemas of its microversion, and the API reference includes every sample.

To rewrite the response samples from the running code (after a deliberate
change, then review the diff)::

    KEYPAIRS_WRITE_SAMPLES=1 python -m pytest tests/functional/test_api_samples.py -k sqlite
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client
from tests.functional import response_schemas

DOC = Path(__file__).resolve().parents[2] / "doc" / "source" / "reference"
SAMPLES = DOC / "samples"
REFERENCE = DOC / "os-keypairs.rst"
WRITE = os.environ.get("KEYPAIRS_WRITE_SAMPLES") == "1"

# What the samples show, as in OpenStack Compute's own API samples.
PROJECT = "6f70656e737461636b20342065766572"
USER = "fake"
HOST = "openstack.example.com"

_SSH_LINE = re.compile(r"(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp\d+) [0-9A-Za-z+/]+=*( \S+)?")
_PEM_PRIVATE = re.compile(
    r"-----BEGIN (RSA|OPENSSH) PRIVATE KEY-----\n[0-9A-Za-z+/=\n]+"
    r"-----END \1 PRIVATE KEY-----\n?"
)

#: field -> check of a value that differs on every run
VARYING: dict[str, Callable[[Any], bool]] = {
    "id": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "created_at": lambda v: bool(re.fullmatch(response_schemas.DATE_TIME_PATTERN, v)),
    "fingerprint": lambda v: bool(re.fullmatch(response_schemas.FINGERPRINT_PATTERN, v)),
    "public_key": lambda v: bool(_SSH_LINE.fullmatch(v)),
    "private_key": lambda v: bool(_PEM_PRIVATE.fullmatch(v)),
}
RECORD = frozenset({"id", "created_at"})
GENERATED = frozenset({"public_key", "private_key", "fingerprint"})


@dataclasses.dataclass(frozen=True)
class Call:
    """One request of a scenario, relative to ``/v2.1/{project_id}``."""

    method: str
    path: str
    status: int
    request: str | None = None  # request sample file
    response: str | None = None  # response sample file
    changes: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # to the request
    varying: frozenset[str] = frozenset()
    admin: bool = False

    @property
    def operation(self) -> str:
        if self.method == "DELETE":
            return "delete_keypair"
        if self.method == "POST":
            return "create_keypair"
        collection = self.path.split("?")[0] == "/os-keypairs"
        return "list_keypairs" if collection else "get_keypair"


def lifecycle(version: str, import_sample: str, generate_sample: str) -> list[Call]:
    v = f"keypairs-v{version}"
    return [
        Call(
            "POST",
            "/os-keypairs",
            201 if version != "2.1" else 200,
            import_sample,
            f"{v}-import-resp.json",
        ),
        Call("GET", "/os-keypairs", 200, response=f"{v}-list-resp.json"),
        Call("GET", "/os-keypairs/my-laptop", 200, response=f"{v}-show-resp.json", varying=RECORD),
        Call(
            "POST",
            "/os-keypairs",
            201 if version != "2.1" else 200,
            generate_sample,
            f"{v}-generate-resp.json",
            varying=GENERATED,
        ),
        Call("DELETE", "/os-keypairs/my-laptop", 204 if version != "2.1" else 202),
    ]


SCENARIOS: dict[str, list[Call]] = {
    "2.1": lifecycle("2.1", "keypairs-v2.1-import-req.json", "keypairs-v2.1-generate-req.json"),
    "2.2": [
        Call(
            "POST",
            "/os-keypairs",
            201,
            "keypairs-v2.2-import-x509-req.json",
            "keypairs-v2.2-import-x509-resp.json",
        ),
        *lifecycle("2.2", "keypairs-v2.2-import-req.json", "keypairs-v2.2-generate-req.json"),
    ],
    "2.10": [
        Call(
            "POST",
            "/os-keypairs",
            201,
            "keypairs-v2.10-create-req.json",
            "keypairs-v2.10-create-resp.json",
            admin=True,
        ),
        Call(
            "GET",
            "/os-keypairs?user_id=fake",
            200,
            response="keypairs-v2.10-list-resp.json",
            admin=True,
        ),
        Call(
            "GET",
            "/os-keypairs/for-fake?user_id=fake",
            200,
            response="keypairs-v2.10-show-resp.json",
            varying=RECORD,
            admin=True,
        ),
        Call("DELETE", "/os-keypairs/for-fake?user_id=fake", 204, admin=True),
    ],
    "2.35": [
        *(
            Call(
                "POST", "/os-keypairs", 201, "keypairs-v2.2-import-req.json", changes={"name": name}
            )
            for name in ("keypair-a", "keypair-b", "keypair-c")
        ),
        Call("GET", "/os-keypairs?limit=2", 200, response="keypairs-v2.35-list-resp.json"),
        Call(
            "GET",
            "/os-keypairs?limit=2&marker=keypair-b",
            200,
            response="keypairs-v2.35-list-next-resp.json",
        ),
    ],
    "2.75": [
        Call(
            "GET",
            "/os-keypairs?sort_key=name",
            400,
            response="keypairs-v2.75-list-unknown-parameter-resp.json",
        ),
    ],
    "2.92": [
        Call(
            "POST",
            "/os-keypairs",
            201,
            "keypairs-v2.92-import-req.json",
            "keypairs-v2.92-import-resp.json",
        ),
        Call("GET", "/os-keypairs", 200, response="keypairs-v2.92-list-resp.json"),
        Call(
            "GET",
            "/os-keypairs/deploy@ci.example.com",
            200,
            response="keypairs-v2.92-show-resp.json",
            varying=RECORD,
        ),
        Call(
            "POST",
            "/os-keypairs",
            400,
            "keypairs-v2.1-generate-req.json",
            "keypairs-v2.92-generate-refused-resp.json",
        ),
        Call("DELETE", "/os-keypairs/deploy@ci.example.com", 204),
    ],
}


def load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def assert_matches(sample: Any, actual: Any, varying: frozenset[str], where: str) -> None:
    """Same structure; equal values except ``varying`` fields, which match patterns."""
    assert type(sample) is type(actual), f"{where}: {sample!r} vs {actual!r}"
    if isinstance(sample, dict):
        assert set(sample) == set(actual), f"{where}: keys {set(sample) ^ set(actual)}"
        for key, value in sample.items():
            if key in varying:
                check = VARYING[key]
                assert check(value), f"{where}.{key}: sample value {value!r}"
                assert check(actual[key]), f"{where}.{key}: actual value {actual[key]!r}"
            else:
                assert_matches(value, actual[key], varying, f"{where}.{key}")
    elif isinstance(sample, list):
        assert len(sample) == len(actual), f"{where}: {len(sample)} vs {len(actual)} items"
        for index, (left, right) in enumerate(zip(sample, actual, strict=True)):
            assert_matches(left, right, varying, f"{where}[{index}]")
    else:
        assert sample == actual, f"{where}: sample {sample!r}, actual {actual!r}"


def perform(app: Any, version: str, call: Call) -> Any:
    user = "admin" if call.admin else USER
    client = Client(app, f"{user}:{PROJECT}", version)
    body = None
    if call.request is not None:
        body = load(call.request)
        body["keypair"].update(call.changes)
    response = client.request(
        call.method, f"/v2.1/{PROJECT}{call.path}", body, headers={"Host": HOST}
    )
    assert response.status_int == call.status, (call, response.body)
    if call.status < 400:
        response_schemas.check(call.operation, version, response)
    return response.json if response.body else None


@pytest.mark.parametrize("version", list(SCENARIOS))
def test_samples_match_the_running_code(make_host, version: str) -> None:
    app = make_host().api
    for call in SCENARIOS[version]:
        actual = perform(app, version, call)
        if call.response is None:
            continue
        if WRITE:
            (SAMPLES / call.response).write_text(json.dumps(actual, indent=4) + "\n")
            continue
        sample = load(call.response)
        if call.status < 400:
            schema = response_schemas.schema_for(call.operation, version)
            response_schemas.validate_body(sample, schema["response_body"])
        else:
            response_schemas.validate_body(sample, response_schemas.FAULT)
        assert_matches(sample, actual, call.varying, call.response)


def used_samples() -> set[str]:
    return {
        name
        for calls in SCENARIOS.values()
        for call in calls
        for name in (call.request, call.response)
        if name
    }


def test_every_sample_is_used_and_exists() -> None:
    on_disk = {path.name for path in SAMPLES.glob("*.json")}
    assert used_samples() == on_disk


def test_the_reference_includes_every_sample() -> None:
    included = set(re.findall(r"\.\. literalinclude:: samples/(\S+\.json)", REFERENCE.read_text()))
    assert included == used_samples()
