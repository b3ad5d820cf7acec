"""Notifications on a real RabbitMQ: OpenStack Compute's, event for event.

The reference is ``/work/shared``'s record of what Nova 34 sends (mirrored in
doc/source/reference/notifications.rst): event types, their order across the
two streams, routing keys on the ``nova`` exchange, publisher ids,
priorities, exact payloads, the request id of the response, no token.
Every message these tests receive is scanned for secrets when the test ends.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from keypairs_ext.host.contract import Notifier
from tests.conftest import build_host
from tests.functional import bus_support
from tests.functional.bus_support import HOST_NAME, Bus, close_bus, make_bus
from tests.functional.keypairs_helpers import (
    ADMIN,
    ed25519_line,
    md5_fingerprint,
    sha1_fingerprint,
    x509_certificate,
)

pytestmark = pytest.mark.xdist_group("rabbitmq")

proxy = bus_support.proxy
CALLER = ("user1", "project1")


@pytest.fixture
def new_bus(tmp_path: Any) -> Iterator[Any]:
    made: list[Bus] = []

    def build(fmt: str = "both", **overrides: Any) -> Bus:
        bus = make_bus(
            f"sqlite:///{tmp_path}/kp-{len(made)}.sqlite", str(tmp_path), fmt, **overrides
        )
        made.append(bus)
        return bus

    yield build
    for bus in made:
        close_bus(bus)


@pytest.fixture
def bus(new_bus: Any) -> Bus:
    return new_bus()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Call:
    """One API call and the time it took, for checking its events."""

    def __init__(self, client: Any, method: str, path: str, body: Any = None, **kw: Any):
        self.started = _now()
        self.response = client.request(method, path, body, **kw)
        self.ended = _now()
        self.request_id = self.response.headers["x-openstack-request-id"]


def L(event_type: str, key_name: str, priority: str = "INFO", caller=CALLER) -> tuple:
    payload = {"tenant_id": caller[1], "user_id": caller[0], "key_name": key_name}
    return ("legacy", event_type, priority, payload)


def V(event_type: str, data: dict, priority: str = "INFO") -> tuple:
    return ("versioned", event_type, priority, data)


def keypair(user: str, name: str, fingerprint: Any, public_key: Any, key_type: str = "ssh"):
    return {
        "nova_object.name": "KeypairPayload",
        "nova_object.namespace": "nova",
        "nova_object.version": "1.0",
        "nova_object.data": {
            "user_id": user,
            "name": name,
            "fingerprint": fingerprint,
            "public_key": public_key,
            "type": key_type,
        },
    }


def check(bus: Bus, call: Call, expected: list[tuple], caller=CALLER) -> list:
    """The call's events are exactly ``expected``, in order, with Nova's envelope."""
    messages = bus.consumer.take(len(expected))
    assert [(m.event_type, m.body["priority"]) for m in messages] == [
        (e[1], e[2]) for e in expected
    ]
    for message, (stream, event_type, priority, payload) in zip(messages, expected, strict=True):
        body = message.body
        topic = bus.topics.legacy if stream == "legacy" else bus.topics.versioned
        assert message.routing_key == f"{topic}.{priority.lower()}"
        assert message.envelope["oslo.version"] == "2.0"
        assert set(message.envelope) == {"oslo.version", "oslo.message"}
        assert message.properties["content_type"] == "application/json"
        assert message.properties["content_encoding"] == "utf-8"
        assert message.properties["delivery_mode"] == 2
        publisher = f"api.{HOST_NAME}" if stream == "legacy" else f"nova-api:{HOST_NAME}"
        assert body["publisher_id"] == publisher
        if payload is not None:
            assert body["payload"] == payload, event_type
        assert body["_context_request_id"] == call.request_id
        assert (body["_context_user_id"], body["_context_project_id"]) == caller
        assert body["_context_auth_token"] is None
        assert body["_context_remote_address"] is None
        stamp = datetime.datetime.fromisoformat(body["timestamp"])
        assert call.started - datetime.timedelta(seconds=2) <= stamp
        assert stamp <= call.ended + datetime.timedelta(seconds=2)
        assert set(body) >= {"message_id", "event_type", "priority", "payload", "_unique_id"}
    return messages


def check_error(
    message: Any, method: str, args: dict, exception: str, text: str, stream: str
) -> None:
    if stream == "legacy":
        assert message.event_type == method
        assert set(message.payload) == {"exception", "args"}
        assert message.payload["args"] == args
        assert exception in message.payload["exception"]
        assert text in message.payload["exception"]
        return
    assert message.event_type == "compute.exception"
    payload = message.payload
    assert payload["nova_object.name"] == "ExceptionPayload"
    assert payload["nova_object.version"] == "1.1"
    assert payload["nova_object.namespace"] == "nova"
    data = payload["nova_object.data"]
    assert set(data) == {
        "module_name",
        "function_name",
        "exception",
        "exception_message",
        "traceback",
    }
    assert data["exception"] == exception
    assert data["exception_message"] == text
    for field in ("module_name", "function_name", "traceback"):
        assert isinstance(data[field], str) and data[field]
    assert data["traceback"].startswith("Traceback (most recent call last):\n,")


def error_events(method: str) -> tuple[tuple, tuple]:
    """The two error events of a failed ``method``: legacy, then versioned."""
    return ("legacy", method, "ERROR", None), ("versioned", "compute.exception", "ERROR", None)


def check_errors(error: Any, exception: Any, method: str, args: dict, name: str, text: str) -> None:
    """Both error events of a failed ``method`` name the exception and its text."""
    check_error(error, method, args, name, text, "legacy")
    check_error(exception, method, args, name, text, "versioned")


# --- successful calls -------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "import_status", "delete_status"),
    [
        ("2.1", 200, 202),
        ("2.2", 201, 204),
        ("2.10", 201, 204),
        ("2.91", 201, 204),
        ("2.92", 201, 204),
    ],
)
def test_import_and_delete_at_each_microversion(bus, version, import_status, delete_status):
    client = bus.client.as_user("user1:project1", version)
    line = ed25519_line("exp@test")
    name = "imp1"
    imported = Call(
        client, "POST", "/v2.1/os-keypairs", {"keypair": {"name": name, "public_key": line}}
    )
    assert imported.response.status_int == import_status, imported.response.text
    fingerprint = md5_fingerprint(line)
    check(
        bus,
        imported,
        [
            L("keypair.import.start", name),
            V("keypair.import.start", keypair("user1", name, None, line)),
            V("keypair.import.end", keypair("user1", name, fingerprint, line)),
            L("keypair.import.end", name),
        ],
    )
    deleted = Call(client, "DELETE", f"/v2.1/os-keypairs/{name}")
    assert deleted.response.status_int == delete_status
    stored = keypair("user1", name, fingerprint, line)
    check(
        bus,
        deleted,
        [
            L("keypair.delete.start", name),
            V("keypair.delete.start", stored),
            V("keypair.delete.end", stored),
            L("keypair.delete.end", name),
        ],
    )
    bus.consumer.nothing_more()


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.91"])
def test_generate(bus, version):
    client = bus.client.as_user("user1:project1", version)
    generated = Call(client, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "gen1"}})
    assert generated.response.status_int == (200 if version == "2.1" else 201)
    created = generated.response.json["keypair"]
    check(
        bus,
        generated,
        [
            L("keypair.create.start", "gen1"),
            V("keypair.create.start", keypair("user1", "gen1", None, None)),
            V(
                "keypair.create.end",
                keypair("user1", "gen1", created["fingerprint"], created["public_key"]),
            ),
            L("keypair.create.end", "gen1"),
        ],
    )


def test_x509_generate_and_import(bus):
    client = bus.client.as_user("user1:project1", "2.2")
    generated = Call(
        client, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "cert1", "type": "x509"}}
    )
    assert generated.response.status_int == 201
    created = generated.response.json["keypair"]
    assert created["fingerprint"] == sha1_fingerprint(created["public_key"])
    check(
        bus,
        generated,
        [
            L("keypair.create.start", "cert1"),
            V("keypair.create.start", keypair("user1", "cert1", None, None, "x509")),
            V(
                "keypair.create.end",
                keypair("user1", "cert1", created["fingerprint"], created["public_key"], "x509"),
            ),
            L("keypair.create.end", "cert1"),
        ],
    )
    pem = x509_certificate()
    body = {"keypair": {"name": "cert2", "type": "x509", "public_key": pem}}
    imported = Call(client, "POST", "/v2.1/os-keypairs", body)
    assert imported.response.status_int == 201
    check(
        bus,
        imported,
        [
            L("keypair.import.start", "cert2"),
            V("keypair.import.start", keypair("user1", "cert2", None, pem, "x509")),
            V("keypair.import.end", keypair("user1", "cert2", sha1_fingerprint(pem), pem, "x509")),
            L("keypair.import.end", "cert2"),
        ],
    )


def test_admin_for_another_user_at_2_10(bus):
    """The owner in the versioned payload, the caller in the legacy one (as Nova)."""
    admin = bus.client.as_user(ADMIN, "2.10")
    caller = ("admin", "adminproject")
    line = ed25519_line()
    body = {"keypair": {"name": "forbob", "public_key": line, "user_id": "bob"}}
    imported = Call(admin, "POST", "/v2.1/os-keypairs", body)
    assert imported.response.status_int == 201
    fingerprint = md5_fingerprint(line)
    check(
        bus,
        imported,
        [
            L("keypair.import.start", "forbob", caller=caller),
            V("keypair.import.start", keypair("bob", "forbob", None, line)),
            V("keypair.import.end", keypair("bob", "forbob", fingerprint, line)),
            L("keypair.import.end", "forbob", caller=caller),
        ],
        caller=caller,
    )
    deleted = Call(admin, "DELETE", "/v2.1/os-keypairs/forbob?user_id=bob")
    assert deleted.response.status_int == 204
    stored = keypair("bob", "forbob", fingerprint, line)
    check(
        bus,
        deleted,
        [
            L("keypair.delete.start", "forbob", caller=caller),
            V("keypair.delete.start", stored),
            V("keypair.delete.end", stored),
            L("keypair.delete.end", "forbob", caller=caller),
        ],
        caller=caller,
    )


# --- failures -----------------------------------------------------------------------


def test_duplicate_import_and_generate(bus):
    client = bus.client.as_user("user1:project1", "2.2")
    line = ed25519_line()
    body = {"keypair": {"name": "dup", "public_key": line}}
    assert client.post("/v2.1/os-keypairs", body).status_int == 201
    bus.consumer.take(4)
    again = Call(client, "POST", "/v2.1/os-keypairs", body)
    assert again.response.status_int == 409
    text = "Key pair 'dup' already exists."
    assert again.response.json["conflictingRequest"]["message"] == text
    start, vstart, error, exception = check(
        bus,
        again,
        [
            L("keypair.import.start", "dup"),
            V("keypair.import.start", keypair("user1", "dup", None, line)),
            *error_events("import_key_pair"),
        ],
    )
    args = {"user_id": "user1", "key_name": "dup", "public_key": line, "key_type": "ssh"}
    check_error(error, "import_key_pair", args, "KeyPairExists", text, "legacy")
    # Nova's internal code, not the HTTP status.
    assert "'code': 500" in error.payload["exception"]
    check_error(exception, "import_key_pair", args, "KeyPairExists", text, "versioned")

    generated = Call(client, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "dup"}})
    assert generated.response.status_int == 409
    _, _, error, exception = check(
        bus,
        generated,
        [
            L("keypair.create.start", "dup"),
            V("keypair.create.start", keypair("user1", "dup", None, None)),
            *error_events("create_key_pair"),
        ],
    )
    args = {"user_id": "user1", "key_name": "dup", "key_type": "ssh"}
    check_errors(error, exception, "create_key_pair", args, "KeyPairExists", text)
    bus.consumer.nothing_more()


def test_invalid_public_key(bus):
    client = bus.client.as_user("user1:project1", "2.2")
    junk = "ssh-ed25519 not-base64!! junk@test"
    call = Call(
        client, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "bad", "public_key": junk}}
    )
    assert call.response.status_int == 400
    message = call.response.json["badRequest"]["message"]
    assert message.startswith("Keypair data is invalid: ")
    _, _, error, exception = check(
        bus,
        call,
        [
            L("keypair.import.start", "bad"),
            V("keypair.import.start", keypair("user1", "bad", None, junk)),
            *error_events("import_key_pair"),
        ],
    )
    args = {"user_id": "user1", "key_name": "bad", "public_key": junk, "key_type": "ssh"}
    check_errors(error, exception, "import_key_pair", args, "InvalidKeypair", message)


def test_delete_of_a_missing_key(bus):
    """Only the legacy start: the versioned one needs the key (as Nova)."""
    client = bus.client.as_user("user1:project1", "2.2")
    call = Call(client, "DELETE", "/v2.1/os-keypairs/nosuch")
    assert call.response.status_int == 404
    text = "Keypair nosuch not found for user user1"
    assert call.response.json["itemNotFound"]["message"] == text
    _, error, exception = check(
        bus,
        call,
        [
            L("keypair.delete.start", "nosuch"),
            *error_events("delete_key_pair"),
        ],
    )
    args = {"user_id": "user1", "key_name": "nosuch"}
    check_errors(error, exception, "delete_key_pair", args, "KeypairNotFound", text)
    bus.consumer.nothing_more()


def test_over_quota_has_no_start(new_bus):
    bus = new_bus(quota__key_pairs=1)
    client = bus.client.as_user("user1:project1", "2.2")
    assert (
        client.post(
            "/v2.1/os-keypairs", {"keypair": {"name": "one", "public_key": ed25519_line()}}
        ).status_int
        == 201
    )
    bus.consumer.take(4)
    text = "Quota exceeded, too many key pairs."
    line = ed25519_line()
    for method, body in (
        ("import_key_pair", {"keypair": {"name": "two", "public_key": line}}),
        ("create_key_pair", {"keypair": {"name": "two"}}),
    ):
        call = Call(client, "POST", "/v2.1/os-keypairs", body)
        assert call.response.status_int == 403
        assert call.response.json["forbidden"]["message"] == text
        error, exception = check(
            bus,
            call,
            list(error_events(method)),
        )
        args = {"user_id": "user1", "key_name": "two", "key_type": "ssh"}
        if method == "import_key_pair":
            args = {"user_id": "user1", "key_name": "two", "public_key": line, "key_type": "ssh"}
        check_error(error, method, args, "KeypairLimitExceeded", text, "legacy")
        assert "'code': 413" in error.payload["exception"]
        check_error(exception, method, args, "KeypairLimitExceeded", text, "versioned")
    bus.consumer.nothing_more()


def test_nothing_for_reads_and_refused_requests(bus):
    client = bus.client.as_user("user1:project1", "2.2")
    assert (
        client.post(
            "/v2.1/os-keypairs", {"keypair": {"name": "k", "public_key": ed25519_line()}}
        ).status_int
        == 201
    )
    bus.consumer.take(4)
    assert client.get("/v2.1/os-keypairs").status_int == 200
    assert client.get("/v2.1/os-keypairs/k").status_int == 200
    assert client.get("/v2.1/os-keypairs/nosuch").status_int == 404
    refused = [
        ("2.2", {"keypair": {"name": "bad/name", "public_key": ed25519_line()}}),
        ("2.2", {"keypair": {"name": "x", "type": "pgp"}}),
        ("2.2", {"keypair": {"public_key": ed25519_line()}}),
        ("2.92", {"keypair": {"name": "nokey"}}),
        ("2.10", {"keypair": {"name": "other", "user_id": "user2"}}),  # policy: 403
    ]
    for version, body in refused:
        response = client.post("/v2.1/os-keypairs", body, version=version)
        assert response.status_int in (400, 403), (body, response.text)
    assert client.delete("/v2.1/os-keypairs/k?user_id=user2", version="2.10").status_int == 403
    bus.consumer.nothing_more(0.5)


# --- formats and switches ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["versioned", "unversioned"])
def test_one_stream_silences_the_other(new_bus, fmt):
    bus = new_bus(fmt)
    client = bus.client.as_user("user1:project1", "2.2")
    line = ed25519_line()
    ok = Call(client, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "k", "public_key": line}})
    failed = Call(client, "DELETE", "/v2.1/os-keypairs/nosuch")
    assert (ok.response.status_int, failed.response.status_int) == (201, 404)
    fingerprint = md5_fingerprint(line)
    if fmt == "versioned":
        check(
            bus,
            ok,
            [
                V("keypair.import.start", keypair("user1", "k", None, line)),
                V("keypair.import.end", keypair("user1", "k", fingerprint, line)),
            ],
        )
        check(bus, failed, [("versioned", "compute.exception", "ERROR", None)])
    else:
        check(bus, ok, [L("keypair.import.start", "k"), L("keypair.import.end", "k")])
        check(
            bus,
            failed,
            [L("keypair.delete.start", "nosuch"), ("legacy", "delete_key_pair", "ERROR", None)],
        )
    bus.consumer.nothing_more()


def test_default_queues_hold_the_events(bus):
    """oslo.messaging declares a queue per routing key: a late consumer misses nothing."""
    client = bus.client.as_user("user1:project1", "2.2")
    assert (
        client.post(
            "/v2.1/os-keypairs", {"keypair": {"name": "k", "public_key": ed25519_line()}}
        ).status_int
        == 201
    )
    assert client.delete("/v2.1/os-keypairs/nosuch").status_int == 404
    bus.consumer.take(6)
    from kombu import Connection, Queue

    counts = {}
    with Connection(bus_support.amqp_url()) as connection:
        channel = connection.channel()
        for name in bus.topics.publisher_queues():
            declared = Queue(name, exchange=bus_support.EXCHANGE, routing_key=name)(channel)
            counts[name] = declared.queue_declare(passive=True).message_count
    legacy, versioned = bus.topics.legacy, bus.topics.versioned
    # import start and end, the missing key's delete start; its errors
    assert counts == {
        f"{legacy}.info": 3,
        f"{legacy}.error": 1,
        f"{versioned}.info": 2,
        f"{versioned}.error": 1,
    }


def test_no_driver_means_no_bus(tmp_path, proxy):
    """Without a driver (or with noop) nothing is sent and no connection is made."""
    for overrides in (
        {},
        {
            "DEFAULT__transport_url": bus_support.transport_url(proxy.address),
            "oslo_messaging_notifications__driver": ["noop"],
            "notifications__notification_format": "both",
        },
    ):
        host = build_host(f"sqlite:///{tmp_path}/kp.sqlite", str(tmp_path), **overrides)
        try:
            assert type(host.notifier) is Notifier
            client = bus_support.Client(host.api, "user1:project1", "2.2")
            body = {"keypair": {"name": f"k{len(overrides)}", "public_key": ed25519_line()}}
            assert client.post("/v2.1/os-keypairs", body).status_int == 201
            assert client.delete("/v2.1/os-keypairs/nosuch").status_int == 404
        finally:
            host.close()
    assert proxy.accepted == 0


def test_no_driver_does_not_load_oslo_messaging(tmp_path):
    """A host without notifications does not pay for importing oslo.messaging."""
    script = (
        "import sys\n"
        "from keypairs_ext.host import app\n"
        f"conf = app.make_conf(['--config-file', {str(tmp_path / 'kp.conf')!r}])\n"
        f"conf.set_override('state_path', {str(tmp_path)!r})\n"
        "host = app.build(conf)\n"
        "print(sorted(m for m in sys.modules if m.startswith('oslo_messaging')))\n"
    )
    (tmp_path / "kp.conf").write_text("[notifications]\nnotification_format = both\n")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().replace("'", '"')) == []


# --- never a secret ------------------------------------------------------------------

EXTENDED = "compute 2.2, keypairs 1.0"


def test_no_secret_in_any_message(bus):
    """Every private-key format, passphrases, failures after a generation:
    the teardown scan finds none of their secrets in any message."""
    client = bus.client.as_user("user1:project1", "2.2")
    generations = [{"name": "compat-rsa"}, {"name": "compat-x509", "type": "x509"}]
    extended = [
        {
            "name": f"{fmt}-locked",
            "algorithm": "ecdsa-p256" if fmt == "pem" else "ed25519",
            "private_key_format": fmt,
            "passphrase": f"correct horse {fmt} battery staple",
        }
        for fmt in ("openssh", "pkcs8", "pem", "ppk")
    ] + [
        {"name": f"{algorithm}-plain", "algorithm": algorithm}
        for algorithm in ("rsa", "ecdsa-p521")
    ]
    for body in generations:
        response = client.post("/v2.1/os-keypairs", {"keypair": body})
        assert response.status_int == 201, response.text
        assert response.json["keypair"]["private_key"]
    for body in extended:
        response = client.post(
            "/v2.1/os-keypairs",
            {"keypair": body},
            headers={"OpenStack-API-Version": EXTENDED},
        )
        assert response.status_int == 201, response.text
    # A duplicate generate with a passphrase: generated, refused, reported.
    duplicate = {**extended[0]}
    response = client.post(
        "/v2.1/os-keypairs", {"keypair": duplicate}, headers={"OpenStack-API-Version": EXTENDED}
    )
    assert response.status_int == 409
    messages = bus.consumer.take(4 * (len(generations) + len(extended)) + 4)
    assert len(bus.client.secrets) > 20  # the scan has something to look for
    error = [m for m in messages if m.event_type == "create_key_pair"]
    assert error[0].payload["args"] == {
        "user_id": "user1",
        "key_name": "openssh-locked",
        "key_type": "ssh",
    }
    bus.consumer.nothing_more()


def test_no_token_in_the_context(bus):
    """The caller's token is in the request context, never in a message."""
    from keypairs_ext.host.context import RequestContext

    token = "gAAAAABsecret-token-" + "x" * 40
    context = RequestContext(
        user_id="user1", project_id="project1", auth_token=token, request_id="req-1"
    )
    bus.client.secrets.append(token)
    bus.host.notifier.notify(context, "legacy", "keypair.import.start", {"key_name": "k"})
    bus.host.notifier.settle()
    (message,) = bus.consumer.take(1)
    assert message.body["_context_auth_token"] is None
    assert message.body["_context_request_id"] == "req-1"


def test_extended_import_keeps_the_compatible_events(bus):
    """An RFC 4716 import in the extended contract: the submitted text in the
    start event, the stored canonical line in the end event."""
    line = ed25519_line("rfc@test")
    blob = line.split()[1]
    rfc4716 = (
        "---- BEGIN SSH2 PUBLIC KEY ----\n"
        'Comment: "rfc@test"\n'
        + "\n".join(blob[i : i + 70] for i in range(0, len(blob), 70))
        + "\n---- END SSH2 PUBLIC KEY ----\n"
    )
    client = bus.client.as_user("user1:project1")
    call = Call(
        client,
        "POST",
        "/v2.1/os-keypairs",
        {"keypair": {"name": "rfc", "public_key": rfc4716}},
        headers={"OpenStack-API-Version": EXTENDED},
    )
    assert call.response.status_int == 201, call.response.text
    stored = call.response.json["keypair"]["public_key"]
    assert stored.split()[:2] == line.split()[:2]
    check(
        bus,
        call,
        [
            L("keypair.import.start", "rfc"),
            V("keypair.import.start", keypair("user1", "rfc", None, rfc4716)),
            V("keypair.import.end", keypair("user1", "rfc", md5_fingerprint(line), stored)),
            L("keypair.import.end", "rfc"),
        ],
    )


def test_the_scan_finds_a_leak():
    """The teardown scan is not blind: a private key in a payload fails it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = private.splitlines()[1]  # its base64, without the PEM armour
    inner = json.dumps({"event_type": "x", "payload": {"note": body}, "_context_auth_token": None})
    raw = json.dumps({"oslo.version": "2.0", "oslo.message": inner})
    consumer = bus_support.Consumer.__new__(bus_support.Consumer)
    consumer.received = [bus_support.Message("t.info", {}, raw)]
    with pytest.raises(AssertionError):
        consumer.scan(bus_support.secret_parts(private, ""))
    consumer.received = [bus_support.Message("t.info", {}, raw.replace(body, "-"))]
    consumer.scan(bus_support.secret_parts(private, ""))
