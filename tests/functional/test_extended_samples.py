"""The extended contract's reference samples are what the running code answers.

Each call of the scenario sends its request sample (when it has one) and
compares the answer with its response sample: the same keys at every level,
equal values, except values that differ on every run (keys, fingerprints,
ids, timestamps), which must have the sample's shape.  Every sample file is
used and included in the reference page.  ``KEYPAIRS_WRITE_SAMPLES=1``
rewrites the response samples from the running code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client

DOC = Path(__file__).resolve().parents[2] / "doc" / "source" / "reference"
SAMPLES = DOC / "samples" / "extended"
PAGES = (DOC / "extended.rst", DOC / "compatible-vs-extended.rst")
WRITE = os.environ.get("KEYPAIRS_WRITE_SAMPLES") == "1"
EXTENDED = {"OpenStack-API-Version": "compute 2.92, keypairs 1.0"}
LIFECYCLE = {"OpenStack-API-Version": "compute 2.92, keypairs 1.1"}
COMPATIBLE = {"OpenStack-API-Version": "compute 2.92"}


VARYING = {
    "id": r"[0-9a-f-]{36}|\d+",
    "created_at": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}",
    "private_key": r"(?s)-----BEGIN [A-Z ]+-----.*",
    "href": r"http://\S+",
    "updated_at": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}",
    "created": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
}
GENERATED = {
    "public_key": r"ssh-ed25519 [0-9A-Za-z+/]+=* ?.*",
    "fingerprint": r"([0-9a-f]{2}:){15}[0-9a-f]{2}",
    "fingerprint_sha256": r"SHA256:[0-9A-Za-z+/]{43}",
}

# (name, method, path, headers, request sample, response sample, status, generated?)
SCENARIO = [
    ("generate", "POST", "/os-keypairs", EXTENDED, "generate-req", "generate-resp", 201, True),
    (
        "import",
        "POST",
        "/os-keypairs",
        EXTENDED,
        "import-rfc4716-req",
        "import-rfc4716-resp",
        201,
        False,
    ),
    ("show", "GET", "/os-keypairs/laptop", EXTENDED, None, "show-resp", 200, False),
    (
        "show-compatible",
        "GET",
        "/os-keypairs/laptop",
        COMPATIBLE,
        None,
        "show-compatible-resp",
        200,
        False,
    ),
    (
        "list",
        "GET",
        "/os-keypairs?algorithm=ed25519&limit=1",
        EXTENDED,
        None,
        "list-filtered-resp",
        200,
        True,
    ),
    (
        "validate",
        "POST",
        "/os-keypairs/validate",
        EXTENDED,
        "validate-req",
        "validate-resp",
        200,
        False,
    ),
    # keypairs 1.1: the lifecycle (a boot in between: its answer is not a sample).
    (
        "lifecycle-create",
        "POST",
        "/os-keypairs",
        LIFECYCLE,
        "lifecycle-create-req",
        "lifecycle-create-resp",
        201,
        False,
    ),
    ("boot", "POST", "/servers", LIFECYCLE, "lifecycle-boot-req", None, 202, False),
    (
        "lifecycle-update",
        "PUT",
        "/os-keypairs/contractor-dana",
        LIFECYCLE,
        "lifecycle-update-req",
        "lifecycle-update-resp",
        200,
        False,
    ),
    (
        "lifecycle-list",
        "GET",
        "/os-keypairs?labels=team=db&in_use=true",
        LIFECYCLE,
        None,
        "lifecycle-list-resp",
        200,
        False,
    ),
    (
        "lifecycle-servers",
        "GET",
        "/os-keypairs/contractor-dana/servers",
        LIFECYCLE,
        None,
        "lifecycle-servers-resp",
        200,
        False,
    ),
    (
        "lifecycle-delete-in-use",
        "DELETE",
        "/os-keypairs/contractor-dana",
        LIFECYCLE,
        None,
        "lifecycle-delete-in-use-resp",
        409,
        False,
    ),
]


def _load(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def _compare(sample: Any, actual: Any, generated: bool, path: str = "") -> None:
    if isinstance(sample, dict):
        assert isinstance(actual, dict) and set(sample) == set(actual), (path, actual)
        for key in sample:
            patterns = dict(VARYING, **(GENERATED if generated else {}))
            if key in patterns and isinstance(sample[key], str):
                for value in (sample[key], actual[key]):
                    assert re.fullmatch(patterns[key], str(value)), (path + key, value)
            elif key in patterns:
                assert type(sample[key]) is type(actual[key]), (path + key, actual[key])
            else:
                _compare(sample[key], actual[key], generated, f"{path}{key}.")
    elif isinstance(sample, list):
        assert isinstance(actual, list) and len(sample) == len(actual), (path, actual)
        for s, a in zip(sample, actual, strict=True):
            _compare(s, a, generated, path)
    else:
        assert sample == actual, (path, sample, actual)


def test_samples_match_the_running_code(make_host):
    client = Client(make_host().api, token="fake:6f70656e737461636b20342065766572")
    for name, method, path, headers, request, response, status, generated in SCENARIO:
        body = _load(request) if request else None
        answer = client.request(method, "/v2.1" + path, body, headers=headers)
        assert answer.status_int == status, (name, answer.body)
        if response is None:
            continue
        if WRITE:
            (SAMPLES / f"{response}.json").write_text(json.dumps(answer.json, indent=4) + "\n")
        _compare(_load(response), answer.json, generated)


def test_every_sample_is_used_and_shown():
    used = {f"{n}.json" for call in SCENARIO for n in call[4:6] if n}
    assert {p.name for p in SAMPLES.glob("*.json")} == used
    shown = "".join(page.read_text() for page in PAGES)
    for name in used:
        assert f"samples/extended/{name}" in shown, name


@pytest.mark.parametrize(
    "name",
    [
        "generate-req",
        "import-rfc4716-req",
        "validate-req",
        "lifecycle-create-req",
        "lifecycle-update-req",
    ],
)
def test_request_samples_are_valid_json_objects(name):
    assert isinstance(_load(name)["keypair"], dict)
