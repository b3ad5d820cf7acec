"""The SSH certificate reference samples are what the running code answers.

The scenario sends each request sample and compares the answer with its
response sample after blanking what differs on every run (UUIDs, serials,
keys, fingerprints, times): the structure and every other value must be
equal.  Every sample file is used and included in a page.
``KEYPAIRS_WRITE_SAMPLES=1`` rewrites the response samples.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import webob

from keypairs_ext.host.metadata import sign
from tests.conftest import Client, build_host
from tests.functional.certificates_helpers import certificate_overrides

DOC = Path(__file__).resolve().parents[2] / "doc" / "source"
SAMPLES = DOC / "reference" / "samples" / "certificates"
PAGES = (DOC / "reference" / "certificates.rst", DOC / "user" / "certificates.rst")
WRITE = os.environ.get("KEYPAIRS_WRITE_SAMPLES") == "1"
HEADERS = {"OpenStack-API-Version": "compute 2.92, keypairs 1.3"}
LAPTOP = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHUg4Hy+JOuRfm9tFOSyqQhwDtX0Ec3x0E0JrLk1Tiov alice@laptop"
)

_BLANKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"SHA256:[0-9A-Za-z+/]{43}"), "<sha256>"),
    (re.compile(r"AAAA[0-9A-Za-z+/]{20,}=*"), "<base64>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z?"), "<time>"),
]


def blank(value: Any, key: str = "") -> Any:
    """``value`` with what changes on every run replaced by placeholders."""
    if isinstance(value, dict):
        return {blank(k): blank(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [blank(v, key) for v in value]
    if key == "serial" and isinstance(value, int):
        return "<serial>"
    if key == "adminPass":
        return "<password>"
    if isinstance(value, str):
        for pattern, placeholder in _BLANKS:
            value = pattern.sub(placeholder, value)
    return value


def check(name: str, answer: Any) -> None:
    path = SAMPLES / f"{name}.json"
    if WRITE:
        path.write_text(json.dumps(answer, indent=4) + "\n")
    sample = json.loads(path.read_text())
    assert blank(answer) == blank(sample), name


def request_sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def test_samples(tmp_path):
    host = build_host(
        f"sqlite:///{tmp_path}/s.sqlite", str(tmp_path), **certificate_overrides(tmp_path)
    )
    alice = Client(host.api, "alice:project1")
    admin = Client(host.api, "admin:project1")
    used: set[str] = set()

    def call(
        client: Client, method: str, path: str, request: str | None, status: int, response: str
    ):
        body = request_sample(request) if request else None
        answer = client.request(method, "/v2.1" + path, body, headers=HEADERS)
        assert answer.status_int == status, answer.text
        check(response, answer.json)
        used.update(n for n in (request, response) if n)
        return answer.json

    try:
        created = alice.request(
            "POST",
            "/v2.1/os-keypairs",
            {"keypair": {"name": "laptop", "public_key": LAPTOP}},
            headers=HEADERS,
        )
        assert created.status_int == 201
        issued = call(
            alice, "POST", "/os-keypairs/laptop/certificates", "issue-req", 201, "issue-resp"
        )
        serial = issued["certificate"]["serial"]
        call(alice, "GET", "/os-ssh-certificates", None, 200, "certificates-resp")
        call(alice, "GET", f"/os-ssh-certificates/{serial}", None, 200, "certificate-resp")
        call(alice, "GET", "/os-ssh-certificate-authorities", None, 200, "authorities-resp")
        server = call(alice, "POST", "/servers", "server-create-req", 202, "server-create-resp")
        request = webob.Request.blank("/openstack/latest/meta_data.json")
        server_id = server["server"]["id"]
        request.headers["X-Instance-ID"] = server_id
        request.headers["X-Instance-ID-Signature"] = sign(server_id, "metadata-secret")
        document = json.loads(request.get_response(host.metadata).body)
        check("meta-data-resp", {k: document[k] for k in ("public_keys", "keys")})
        used.add("meta-data-resp")
        call(alice, "POST", f"/os-ssh-certificates/{serial}/revoke", None, 200, "revoke-resp")
        call(alice, "POST", "/os-ssh-revoked-keys", "revoke-key-req", 201, "revoke-key-resp")
        call(alice, "GET", "/os-ssh-revoked-keys", None, 200, "revoked-keys-resp")
        new = call(
            admin,
            "POST",
            "/os-ssh-certificate-authorities",
            "create-authority-req",
            201,
            "create-authority-resp",
        )
        old = [
            ca
            for ca in alice.request(
                "GET", "/v2.1/os-ssh-certificate-authorities", headers=HEADERS
            ).json["certificate_authorities"]
            if ca["id"] != new["certificate_authority"]["id"]
        ][0]
        call(
            admin,
            "POST",
            f"/os-ssh-certificate-authorities/{old['id']}/retire",
            None,
            200,
            "retire-authority-resp",
        )
    finally:
        host.close()

    files = {p.stem for p in SAMPLES.glob("*.json")}
    assert files == used, f"unused samples: {files - used}"
    pages = "".join(page.read_text() for page in PAGES)
    assert all(f"samples/certificates/{name}.json" in pages for name in files)
