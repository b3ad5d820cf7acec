"""The keypairs 1.2 reference samples (doc/source/reference/sharing.rst) are
what the running code answers, compared as in test_extended_samples.

Alice shares the team's key, Bob imports his own and shares it too (by
update), lists, and boots a server with both; Bob's server shows both names.
``KEYPAIRS_WRITE_SAMPLES=1`` rewrites the response samples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Client
from tests.functional.test_extended_samples import VARYING, WRITE, _compare

DOC = Path(__file__).resolve().parents[2] / "doc" / "source" / "reference"
SAMPLES = DOC / "samples" / "sharing"
HEADERS = {"OpenStack-API-Version": "compute 2.92, keypairs 1.2"}
BOB_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHothY2kmQsfWPJBbIpQXY9hQAs7aZD1fAfRGfC6TS84 bob@laptop"
)
# A server view's times differ on every run.
SERVER_VARYING = dict.fromkeys(("created", "updated"), r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _load(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def _check(name: str, answer: Any, status: int) -> None:
    assert answer.status_int == status, (name, answer.body)
    if WRITE:
        (SAMPLES / f"{name}.json").write_text(json.dumps(answer.json, indent=4) + "\n")
    _compare(_load(name), answer.json, False)


def test_sharing_samples_match_the_running_code(make_host: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(
        "tests.functional.test_extended_samples.VARYING", {**VARYING, **SERVER_VARYING}
    )
    host = make_host()
    alice = Client(host.api, token="alice:team")
    bob = Client(host.api, token="bob:team")

    def call(client: Client, method: str, path: str, body: Any = None) -> Any:
        return client.request(method, "/v2.1" + path, body, headers=HEADERS)

    _check("share-import-resp", call(alice, "POST", "/os-keypairs", _load("share-import-req")), 201)
    mine = {"keypair": {"name": "bob-laptop", "public_key": BOB_KEY}}
    assert call(bob, "POST", "/os-keypairs", mine).status_int == 201
    _check("update-resp", call(bob, "PUT", "/os-keypairs/bob-laptop", _load("update-req")), 200)
    _check("list-resp", call(bob, "GET", "/os-keypairs"), 200)
    created = call(bob, "POST", "/servers", _load("server-create-req"))
    assert created.status_int == 202, created.body
    server_id = created.json["server"]["id"]
    _check("server-show-resp", call(bob, "GET", f"/servers/{server_id}"), 200)


def test_every_sharing_sample_is_shown() -> None:
    shown = (DOC / "sharing.rst").read_text()
    for path in SAMPLES.glob("*.json"):
        assert f"samples/sharing/{path.name}" in shown, path.name
