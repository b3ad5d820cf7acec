"""The notification samples in the reference are what the running code sends.

Each file in ``doc/source/reference/samples/notifications`` is the list of
messages one call puts on the bus (``notification_format = both``), as a
consumer bound to both default topics receives them: routing key and the
message inside the messagingv2 envelope.  Values that change from run to
run (ids, times, generated keys, tracebacks) are compared by their form and
shown with a fixed example.  To rewrite the samples after a deliberate
change:

    KEYPAIRS_WRITE_SAMPLES=1 python -m pytest tests/functional/test_notification_samples.py
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from typing import Any

import pytest

from tests.functional.bus_support import close_bus, make_bus

pytestmark = pytest.mark.xdist_group("rabbitmq")

ROOT = pathlib.Path(__file__).parents[2]
SAMPLES = ROOT / "doc" / "source" / "reference" / "samples" / "notifications"
REFERENCE = ROOT / "doc" / "source" / "reference" / "notifications.rst"
WRITE = os.environ.get("KEYPAIRS_WRITE_SAMPLES") == "1"

TOKEN = "alice:4c1a7e0d9b2f4e6a8d3c5b7a9e1f2d4c"
HOST = "compute-api-1"
# A fixed key, so that its fingerprint is fixed too.
PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMmGG4pnJlRoqBYSuI5wHgfGELiGaaxPkz/gRJRfVNTj alice@laptop"
)

# field -> (the form every value must have, the example the sample shows)
VARIABLE = {
    "message_id": (
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
        "7f5c2a43-9a0e-4c39-8b1d-2e6f0c4d8a11",
    ),
    "_unique_id": (r"[0-9a-f]{32}", "5d0c61f1a4e94c0b9e7d3f2a8b6c4e10"),
    "timestamp": (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?", "2026-12-06 02:06:28.036979"),
    "_context_timestamp": (
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?",
        "2026-12-06T02:06:28.036885",
    ),
    "_context_request_id": (r"req-[0-9a-f-]{36}", "req-76298d78-3c1e-4f57-9a4b-0d2e8c6f1b93"),
    "traceback": (
        r"Traceback \(most recent call last\):\n,.*",
        'Traceback (most recent call last):\n,  File "/usr/lib/python3/site-packages/'
        'keypairs_ext/api/controller.py", line 181, in create\n    keypair = self._store.create(…',
    ),
}
# Generated keys: compared by form where the call generates one.
GENERATED = {
    "fingerprint": (
        r"([0-9a-f]{2}:){15}[0-9a-f]{2}",
        "3f:9b:0c:51:7e:d2:44:a8:19:6b:c0:de:73:25:8f:e1",
    ),
    "public_key": (
        r"ssh-rsa AAAA[A-Za-z0-9+/]+=*( .*)?",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC…",
    ),
}


def _normalize(value: Any, rules: dict, path: str, keep: frozenset = frozenset()) -> Any:
    """``value`` with each varying field replaced by its example; values in
    ``keep`` (the fixed key's own facts) are shown as they are."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in rules and isinstance(item, str) and item not in keep:
                form, example = rules[key]
                assert re.fullmatch(form, item, re.DOTALL), (path, key, item[:200])
                out[key] = example
            else:
                out[key] = _normalize(item, rules, f"{path}.{key}", keep)
        return out
    if isinstance(value, list):
        return [_normalize(item, rules, path, keep) for item in value]
    return value


def _received(bus: Any, count: int, generated: bool) -> list[dict]:
    rules = {**VARIABLE, **(GENERATED if generated else {})}
    shown = []
    for message in bus.consumer.take(count):
        topic, _, priority = message.routing_key.rpartition(".")
        default = "notifications" if topic == bus.topics.legacy else "versioned_notifications"
        shown.append(
            {
                "routing_key": f"{default}.{priority}",
                "message": _normalize(message.body, rules, message.event_type),
            }
        )
    return shown


def _check(name: str, shown: list[dict]) -> None:
    path = SAMPLES / f"{name}.json"
    text = json.dumps(shown, indent=2, ensure_ascii=False) + "\n"
    if WRITE:
        SAMPLES.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing sample {path.name}; run with KEYPAIRS_WRITE_SAMPLES=1"
    assert json.loads(path.read_text()) == shown, f"{path.name} differs from what is sent"


# (sample name, version, method, path, body, status, messages, generated)
CALLS = [
    (
        "import",
        "2.2",
        "POST",
        "/v2.1/os-keypairs",
        {"keypair": {"name": "laptop", "public_key": PUBLIC_KEY}},
        201,
        4,
        False,
    ),
    (
        "import-duplicate",
        "2.2",
        "POST",
        "/v2.1/os-keypairs",
        {"keypair": {"name": "laptop", "public_key": PUBLIC_KEY}},
        409,
        4,
        False,
    ),
    (
        "generate",
        "2.2",
        "POST",
        "/v2.1/os-keypairs",
        {"keypair": {"name": "generated"}},
        201,
        4,
        True,
    ),
    ("delete", "2.2", "DELETE", "/v2.1/os-keypairs/laptop", None, 204, 4, False),
    ("delete-missing", "2.2", "DELETE", "/v2.1/os-keypairs/laptop", None, 404, 3, False),
    (
        "over-quota",
        "2.2",
        "POST",
        "/v2.1/os-keypairs",
        {"keypair": {"name": "third", "public_key": PUBLIC_KEY}},
        403,
        2,
        False,
    ),
]


def test_samples_match_what_is_sent(tmp_path):
    bus = make_bus(
        f"sqlite:///{tmp_path}/kp.sqlite", str(tmp_path), DEFAULT__host=HOST, quota__key_pairs=2
    )
    try:
        client = bus.client.as_user(TOKEN)
        for name, version, method, path, body, status, count, generated in CALLS:
            if name == "over-quota":
                # "generated" and "held" fill the quota of two.
                held = {"keypair": {"name": "held", "public_key": PUBLIC_KEY}}
                assert client.post(path, held, version="2.2").status_int == 201
                bus.consumer.take(4)
            response = client.request(method, path, body, version=version)
            assert response.status_int == status, (name, response.text)
            _check(name, _received(bus, count, generated))
        bus.consumer.nothing_more()
    finally:
        close_bus(bus)


def test_every_sample_is_shown_and_checked():
    on_disk = {path.stem for path in SAMPLES.glob("*.json")}
    assert on_disk == {call[0] for call in CALLS} | extended_sample_names()
    shown = set(
        re.findall(r"literalinclude:: samples/notifications/(\S+)\.json", REFERENCE.read_text())
    )
    assert shown == on_disk


# --- extended events -------------------------------------------------------------

_UUID = VARIABLE["message_id"][0]
_INSTANT_FORM = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
EXTENDED_VARIABLE = {
    "id": (_UUID, "0b6f3a52-2c1d-4e8f-9a7b-5d3c1e0f2a4b"),
    "ca_id": (_UUID, "0b6f3a52-2c1d-4e8f-9a7b-5d3c1e0f2a4b"),
    "public_key": (
        r"ssh-ed25519 AAAA[A-Za-z0-9+/]+=*( .*)?",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1x7Qm0b3Vf… project-ca-1",
    ),
    "fingerprint_sha256": (r"SHA256:[A-Za-z0-9+/]{43}", "SHA256:Xk3fL0u2Q9v…"),
    "ca_fingerprint_sha256": (r"SHA256:[A-Za-z0-9+/]{43}", "SHA256:Xk3fL0u2Q9v…"),
    "valid_after": (_INSTANT_FORM, "2026-12-06T02:04:28.000000Z"),
    "valid_before": (_INSTANT_FORM, "2026-12-06T03:06:28.000000Z"),
    "created_at": (_INSTANT_FORM, "2026-12-06T02:06:28.036979Z"),
    "retired_at": (_INSTANT_FORM, "2026-12-06T02:06:29.118205Z"),
    "revoked_at": (_INSTANT_FORM, "2026-12-06T02:06:29.118205Z"),
    "expires_at": (_INSTANT_FORM, "2027-06-06T00:00:00.000000Z"),
}
CERTS = "compute 2.92, keypairs 1.3"
ADMIN_TOKEN = "admin:4c1a7e0d9b2f4e6a8d3c5b7a9e1f2d4c"
# (sample, token, method, path, body, status, messages)
EXTENDED_CALLS = [
    (
        "keypair-update",
        TOKEN,
        "PUT",
        "/v2.1/os-keypairs/laptop",
        {"keypair": {"description": "work laptop", "labels": {"team": "infra"}}},
        200,
        1,
    ),
    (
        "ssh-certificate-issue-first",
        TOKEN,
        "POST",
        "/v2.1/os-keypairs/laptop/certificates",
        {"certificate": {"principals": ["ubuntu"]}},
        201,
        2,
    ),
    ("ssh-certificate-revoke", TOKEN, "POST", "/v2.1/os-ssh-certificates/1/revoke", None, 200, 1),
    (
        "ssh-key-revoke",
        TOKEN,
        "POST",
        "/v2.1/os-ssh-revoked-keys",
        {"revoked_key": {"keypair_name": "laptop", "reason": "laptop stolen"}},
        201,
        1,
    ),
    ("ssh-certificate-authority-retire", ADMIN_TOKEN, "POST", "<retire>", None, 200, 1),
]


def test_extended_samples_match_what_is_sent(tmp_path):
    from tests.functional.certificates_helpers import certificate_overrides

    bus = make_bus(
        f"sqlite:///{tmp_path}/kp.sqlite",
        str(tmp_path),
        DEFAULT__host=HOST,
        **certificate_overrides(tmp_path),
    )
    from keypairs_ext.crypto import certificates

    rules = {**VARIABLE, **EXTENDED_VARIABLE}
    label, blob = PUBLIC_KEY.split()[:2]
    fingerprint = certificates.fingerprint_sha256(certificates.public_blob(PUBLIC_KEY))
    keep = frozenset({f"{label} {blob}", fingerprint})
    try:
        client = bus.client.as_user(TOKEN)
        body = {"keypair": {"name": "laptop", "public_key": PUBLIC_KEY}}
        assert client.post("/v2.1/os-keypairs", body, version="2.2").status_int == 201
        bus.consumer.take(4)
        ca_id = None
        for name, token, method, path, body, status, count in EXTENDED_CALLS:
            if path == "<retire>":
                path = f"/v2.1/os-ssh-certificate-authorities/{ca_id}/retire"
            response = bus.client.as_user(token).request(
                method, path, body, headers={"OpenStack-API-Version": CERTS}
            )
            assert response.status_int == status, (name, response.text)
            if name == "ssh-certificate-issue-first":
                ca_id = response.json["certificate"]["ca_id"]
            shown = []
            for message in bus.consumer.take(count):
                topic, _, priority = message.routing_key.rpartition(".")
                assert topic == bus.topics.versioned
                body_shown = _normalize(message.body, rules, message.event_type, keep)
                shown.append(
                    {"routing_key": f"versioned_notifications.{priority}", "message": body_shown}
                )
            _check(name, shown)
        bus.consumer.nothing_more()
    finally:
        close_bus(bus)


def extended_sample_names() -> set[str]:
    return {call[0] for call in EXTENDED_CALLS}
