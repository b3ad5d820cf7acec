"""The extended contract's own events, on a real RabbitMQ.

SSH certificates (keypairs 1.3) send ``ssh_certificate.issue`` and
``.revoke``, ``ssh_certificate_authority.create`` and ``.retire``, and
``ssh_key.revoke``, each with a ``keypairs_ext`` payload valid against its
documented schema; ``[keypairs] extended_notifications = false`` and the
unversioned format send none of them, and the compatible events stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from keypairs_ext.notification_payloads import PAYLOADS
from tests.functional.bus_support import Bus, close_bus, make_bus
from tests.functional.certificates_helpers import EXTENDED, certificate_overrides
from tests.support import ed25519_line

pytestmark = pytest.mark.xdist_group("rabbitmq")

PROJECT = "certproject"
ALICE = f"alice:{PROJECT}"
ADMIN = f"admin:{PROJECT}"


@pytest.fixture
def cert_bus(tmp_path: Any) -> Iterator[Any]:
    made: list[Bus] = []

    def build(fmt: str = "both", **overrides: Any) -> Bus:
        bus = make_bus(
            f"sqlite:///{tmp_path}/kp-{len(made)}.sqlite",
            str(tmp_path),
            fmt,
            **certificate_overrides(tmp_path, **overrides),
        )
        made.append(bus)
        return bus

    yield build
    for bus in made:
        close_bus(bus)


def _call(bus: Bus, token: str, method: str, path: str, body: Any = None) -> Any:
    client = bus.client.as_user(token)
    return client.request(method, path, body, headers={"OpenStack-API-Version": EXTENDED})


def _extended(message: Any, event_type: str, name: str) -> dict:
    assert message.event_type == event_type
    assert message.routing_key.endswith(".info")
    assert message.body["priority"] == "INFO"
    assert message.body["publisher_id"] == "nova-api:kp-test-host"
    payload = message.payload
    assert payload["nova_object.name"] == name
    assert payload["nova_object.namespace"] == "keypairs_ext"
    version, schema = PAYLOADS[name]
    assert payload["nova_object.version"] == version
    jsonschema.validate(payload["nova_object.data"], schema)
    return payload["nova_object.data"]


def _import_key(bus: Bus, name: str = "laptop") -> str:
    line = ed25519_line("alice@laptop")
    response = _call(
        bus, ALICE, "POST", "/v2.1/os-keypairs", {"keypair": {"name": name, "public_key": line}}
    )
    assert response.status_int == 201, response.text
    bus.consumer.take(4)  # the compatible import events
    return line


def test_certificate_lifecycle_events(cert_bus):
    bus = cert_bus()
    _import_key(bus)
    body = {"certificate": {"principals": ["ubuntu"]}}
    issued = _call(bus, ALICE, "POST", "/v2.1/os-keypairs/laptop/certificates", body)
    assert issued.status_int == 201, issued.text
    certificate = issued.json["certificate"]
    created, issue = bus.consumer.take(2)
    ca = _extended(created, "ssh_certificate_authority.create", "SSHCertificateAuthorityPayload")
    assert ca["id"] == certificate["ca_id"]
    assert ca["project_id"] == PROJECT
    assert ca["fingerprint_sha256"] == certificate["ca_fingerprint_sha256"]
    assert (ca["retired_at"], ca["retired_by"]) == (None, None)
    data = _extended(issue, "ssh_certificate.issue", "SSHCertificatePayload")
    assert data["serial"] == certificate["serial"]
    assert data["principals"] == ["ubuntu"]
    assert data["keypair_name"] == "laptop"
    assert (data["user_id"], data["requested_by"]) == ("alice", "alice")
    assert data["fingerprint_sha256"] == certificate["fingerprint_sha256"]
    assert data["key_id"] == certificate["key_id"]
    assert data["revoked_at"] is None
    # Never the certificate itself, never the CA's key.
    assert certificate["certificate"] not in issue.raw

    # A second certificate: the CA exists, one event.
    again = _call(bus, ALICE, "POST", "/v2.1/os-keypairs/laptop/certificates", body)
    assert again.status_int == 201
    (second,) = bus.consumer.take(1)
    assert (
        _extended(second, "ssh_certificate.issue", "SSHCertificatePayload")["serial"]
        == (again.json["certificate"]["serial"])
    )

    serial = certificate["serial"]
    revoked = _call(bus, ALICE, "POST", f"/v2.1/os-ssh-certificates/{serial}/revoke")
    assert revoked.status_int == 200, revoked.text
    (revoke,) = bus.consumer.take(1)
    data = _extended(revoke, "ssh_certificate.revoke", "SSHCertificatePayload")
    assert data["serial"] == serial
    assert data["revoked_at"] is not None and data["revoked_by"] == "alice"

    retired = _call(bus, ADMIN, "POST", f"/v2.1/os-ssh-certificate-authorities/{ca['id']}/retire")
    assert retired.status_int == 200, retired.text
    (retire,) = bus.consumer.take(1)
    data = _extended(retire, "ssh_certificate_authority.retire", "SSHCertificateAuthorityPayload")
    assert data["id"] == ca["id"] and data["retired_by"] == "admin"

    made = _call(
        bus, ADMIN, "POST", "/v2.1/os-ssh-certificate-authorities", {"certificate_authority": {}}
    )
    assert made.status_int == 201, made.text
    (create,) = bus.consumer.take(1)
    data = _extended(create, "ssh_certificate_authority.create", "SSHCertificateAuthorityPayload")
    assert data["id"] == made.json["certificate_authority"]["id"]

    key = {"revoked_key": {"keypair_name": "laptop", "reason": "laptop stolen"}}
    first = _call(bus, ALICE, "POST", "/v2.1/os-ssh-revoked-keys", key)
    assert first.status_int == 201, first.text
    (revoke_key,) = bus.consumer.take(1)
    data = _extended(revoke_key, "ssh_key.revoke", "SSHRevokedKeyPayload")
    assert data["reason"] == "laptop stolen" and data["created_by"] == "alice"
    # Revoking it again changes nothing and says nothing.
    assert _call(bus, ALICE, "POST", "/v2.1/os-ssh-revoked-keys", key).status_int == 200
    # Reads send nothing either.
    assert _call(bus, ALICE, "GET", "/v2.1/os-ssh-certificates").status_int == 200
    assert _call(bus, ALICE, "GET", "/v2.1/os-ssh-krl").status_int == 200
    bus.consumer.nothing_more()


@pytest.mark.parametrize(
    ("fmt", "overrides"),
    [("both", {"keypairs__extended_notifications": False}), ("unversioned", {})],
)
def test_compatible_stream_only(cert_bus, fmt, overrides):
    """No extended event; the compatible ones of the same calls still come."""
    bus = cert_bus(fmt, **overrides)
    line = ed25519_line()
    body = {"keypair": {"name": "laptop", "public_key": line}}
    assert _call(bus, ALICE, "POST", "/v2.1/os-keypairs", body).status_int == 201
    expected = 4 if fmt == "both" else 2
    events = bus.consumer.take(expected)
    assert {m.event_type for m in events} == {"keypair.import.start", "keypair.import.end"}
    body = {"certificate": {"principals": ["ubuntu"]}}
    issued = _call(bus, ALICE, "POST", "/v2.1/os-keypairs/laptop/certificates", body)
    assert issued.status_int == 201
    serial = issued.json["certificate"]["serial"]
    assert _call(bus, ALICE, "POST", f"/v2.1/os-ssh-certificates/{serial}/revoke").status_int == 200
    bus.consumer.nothing_more()


def test_update_event(cert_bus):
    """keypairs 1.1: an update says what changed; a refused one says nothing."""
    bus = cert_bus()
    line = _import_key(bus)
    body = {
        "keypair": {"description": "work laptop", "labels": {"team": "infra"}, "expires_in": 3600}
    }
    updated = _call(bus, ALICE, "PUT", "/v2.1/os-keypairs/laptop", body)
    assert updated.status_int == 200, updated.text
    view = updated.json["keypair"]
    (event,) = bus.consumer.take(1)
    data = _extended(event, "keypair.update", "KeypairLifecyclePayload")
    assert data == {
        "user_id": "alice",
        "name": "laptop",
        "id": view["id"],
        "fingerprint_sha256": view["fingerprint_sha256"],
        "description": "work laptop",
        "labels": {"team": "infra"},
        "expires_at": view["expires_at"].replace("Z", ".000000Z"),
        "changed": ["description", "expires_at", "labels"],
    }
    assert line.split()[1] not in event.raw  # the key itself is not repeated
    cleared = _call(
        bus, ALICE, "PUT", "/v2.1/os-keypairs/laptop", {"keypair": {"expires_at": None}}
    )
    assert cleared.status_int == 200
    (event,) = bus.consumer.take(1)
    data = _extended(event, "keypair.update", "KeypairLifecyclePayload")
    assert (data["expires_at"], data["changed"]) == (None, ["expires_at"])
    refused = _call(
        bus, ALICE, "PUT", "/v2.1/os-keypairs/laptop", {"keypair": {"labels": {"-": "x"}}}
    )
    assert refused.status_int == 400
    missing = _call(
        bus, ALICE, "PUT", "/v2.1/os-keypairs/nosuch", {"keypair": {"description": "x"}}
    )
    assert missing.status_int == 404
    bus.consumer.nothing_more()


def test_sharing_is_an_update_event(cert_bus):
    """keypairs 1.2: sharing a key with its project, and unsharing it, are updates."""
    bus = cert_bus()
    _import_key(bus)
    for visibility in ("project", "private"):
        body = {"keypair": {"visibility": visibility}}
        updated = _call(bus, ALICE, "PUT", "/v2.1/os-keypairs/laptop", body)
        assert updated.status_int == 200, updated.text
        assert updated.json["keypair"]["visibility"] == visibility
        (event,) = bus.consumer.take(1)
        data = _extended(event, "keypair.update", "KeypairLifecyclePayload")
        assert (data["name"], data["changed"]) == ("laptop", ["visibility"])
    bus.consumer.nothing_more()


def test_expired_sweep_event(tmp_path):
    """``keypairs-manage keypairs expired --delete`` says which keys it deleted."""
    import datetime
    import subprocess

    from keypairs_ext.api import lifecycle
    from tests.functional import bus_support
    from tests.support import command, write_config

    bus = make_bus(f"sqlite:///{tmp_path}/kp.sqlite", str(tmp_path))
    try:
        client = bus.client.as_user(ALICE)
        v11 = {"OpenStack-API-Version": "compute 2.92, keypairs 1.1"}
        for name in ("old", "older", "fresh"):
            body = {"keypair": {"name": name, "public_key": ed25519_line(), "expires_in": 3600}}
            assert client.post("/v2.1/os-keypairs", body, headers=v11).status_int == 201
        bus.consumer.take(12)
        store = bus.host.extensions[0].store
        now = lifecycle.now()
        for name, days in (("old", 1), ("older", 2)):
            store.update(None, "alice", name, {"expires_at": now - datetime.timedelta(days=days)})
        config = write_config(
            tmp_path / "keypairs.conf",
            {
                "DEFAULT": {
                    "state_path": tmp_path,
                    "transport_url": bus_support.transport_url(),
                    "host": bus_support.HOST_NAME,
                },
                "database": {"connection": f"sqlite:///{tmp_path}/kp.sqlite"},
                "oslo_messaging_notifications": {
                    "driver": "messagingv2",
                    "topics": bus.topics.legacy,
                },
                "notifications": {
                    "notification_format": "both",
                    "versioned_notifications_topics": bus.topics.versioned,
                },
            },
        )
        swept = subprocess.run(
            [
                command("keypairs-manage"),
                "--config-file",
                config,
                "keypairs",
                "expired",
                "--delete",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert swept.returncode == 0, swept.stderr
        events = bus.consumer.take(2)
        assert [
            _extended(m, "keypair.expired.delete", "KeypairExpiredPayload")["name"] for m in events
        ] == [
            "older",
            "old",
        ]
        assert events[0].body["_context_user_id"] is None
        bus.consumer.nothing_more()
    finally:
        close_bus(bus)
