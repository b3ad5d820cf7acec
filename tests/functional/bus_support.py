"""The message bus in the tests: RabbitMQ, a consumer, a proxy port we can close.

* RabbitMQ is the shared server on 127.0.0.1:5672 (``KEYPAIRS_TEST_RABBITMQ``
  = host:port overrides).  Tests never stop it: each uses topics of its own
  and, to take the bus away, a :class:`Proxy` in front of it that it closes.
* :class:`Consumer` binds a queue of its own to the ``nova`` exchange for
  both topics of a test, so it sees legacy and versioned events in the order
  the broker received them.
* Every message a consumer receives is scanned for secrets when the test
  ends (:meth:`Consumer.scan`): private keys in any form, the caller's
  token, passphrases.  :class:`RecordingClient` records what to look for.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from bench.tcp_proxy import Proxy
from tests.conftest import REQUIRE_SERVERS, Client, build_host

RABBITMQ = os.environ.get("KEYPAIRS_TEST_RABBITMQ", "127.0.0.1:5672")
HOST_NAME = "kp-test-host"
EXCHANGE = Exchange("nova", type="topic", durable=False, auto_delete=False)
# Text that only a private key (or its container) contains.
PRIVATE_MARKERS = re.compile(
    r"PRIVATE KEY|PuTTY-User-Key-File|Private-Lines|BEGIN OPENSSH|ENCRYPTED", re.IGNORECASE
)


def rabbit_address() -> tuple[str, int]:
    host, _, port = RABBITMQ.rpartition(":")
    return host, int(port)


def need_rabbitmq() -> None:
    try:
        with socket.create_connection(rabbit_address(), timeout=1):
            return
    except OSError:
        message = f"RabbitMQ is not reachable at {RABBITMQ} (Debian package rabbitmq-server)"
        if REQUIRE_SERVERS:
            pytest.fail(message + " (KEYPAIRS_REQUIRE_SERVERS=1)")
        pytest.skip(message)


def amqp_url(address: tuple[str, int] | None = None) -> str:
    host, port = address or rabbit_address()
    return f"amqp://guest:guest@{host}:{port}//"


def transport_url(address: tuple[str, int] | None = None) -> str:
    host, port = address or rabbit_address()
    return f"rabbit://guest:guest@{host}:{port}/"


class Topics:
    """A test's own legacy and versioned topics."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.legacy = f"kp-{tag}-notifications"
        self.versioned = f"kp-{tag}-versioned"

    def overrides(self, fmt: str = "both", address: tuple[str, int] | None = None) -> dict:
        return {
            "DEFAULT__transport_url": transport_url(address),
            "DEFAULT__host": HOST_NAME,
            "oslo_messaging_notifications__driver": ["messagingv2"],
            "oslo_messaging_notifications__topics": [self.legacy],
            "notifications__notification_format": fmt,
            "notifications__versioned_notifications_topics": [self.versioned],
        }

    def publisher_queues(self) -> list[str]:
        """The queues oslo.messaging declares beside each routing key."""
        return [f"{t}.{p}" for t in (self.legacy, self.versioned) for p in ("info", "error")]


class Message:
    """One notification as received: routing key, properties, the inner message."""

    def __init__(self, routing_key: str, properties: dict, raw: bytes | str) -> None:
        self.routing_key = routing_key
        self.properties = properties
        self.raw = raw.decode() if isinstance(raw, bytes) else raw
        self.envelope = json.loads(raw)
        self.body = json.loads(self.envelope["oslo.message"])

    @property
    def event_type(self) -> str:
        return self.body["event_type"]

    @property
    def payload(self) -> Any:
        return self.body["payload"]

    @property
    def data(self) -> Any:
        return self.body["payload"]["nova_object.data"]

    def __repr__(self) -> str:
        return f"<{self.routing_key} {self.event_type}>"


class Consumer:
    """A queue bound to a test's topics on the ``nova`` exchange."""

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.connection = Connection(amqp_url())
        self.queue = Queue(
            f"kp-test-consumer-{uuid.uuid4().hex[:10]}",
            exchange=EXCHANGE,
            routing_key=f"{topics.legacy}.*",
            exclusive=True,
            auto_delete=True,
        )
        self.channel = self.connection.channel()
        bound = self.queue(self.channel)
        bound.declare()
        bound.bind_to(EXCHANGE, routing_key=f"{topics.versioned}.*")
        self.bound = bound
        self.received: list[Message] = []

    def take(self, count: int, timeout: float = 10) -> list[Message]:
        """The next ``count`` messages; fails when they do not come in time."""
        taken: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(taken) < count:
            message = self.bound.get(no_ack=True)
            if message is None:
                assert time.monotonic() < deadline, (
                    f"expected {count} notifications, got {len(taken)}: {taken}"
                )
                time.sleep(0.02)
                continue
            received = Message(
                message.delivery_info["routing_key"], dict(message.properties), message.body
            )
            taken.append(received)
            self.received.append(received)
        return taken

    def nothing_more(self, wait: float = 0.3) -> None:
        """Nothing else arrives within ``wait`` seconds."""
        time.sleep(wait)
        extra = self.bound.get(no_ack=True)
        assert extra is None, f"unexpected notification: {extra.body[:300]!r}"

    def scan(self, secrets: list[str]) -> None:
        """No received message holds a private key, token or passphrase."""
        for message in self.received:
            text = message.raw
            # The inner message is JSON in a JSON string: decode it once more
            # so that escaped newlines of a PEM block are compared as text.
            inner = message.envelope["oslo.message"]
            for haystack in (text, inner):
                assert not PRIVATE_MARKERS.search(haystack), (message, haystack[:500])
                for secret in secrets:
                    assert secret not in haystack, (message, "holds a secret", secret)
            assert message.body.get("_context_auth_token") is None, message

    def close(self) -> None:
        try:
            with Connection(amqp_url()) as connection:
                channel = connection.channel()
                for name in self.topics.publisher_queues():
                    Queue(name, exchange=EXCHANGE)(channel).delete()
        finally:
            self.connection.release()


def secret_parts(private_key: str, public_key: str) -> list[str]:
    """The private key, and each 40-character run of its base64 that is not
    also public: PKCS#12 and OpenSSH files carry the public half too."""
    body = "".join(
        line
        for line in private_key.splitlines()
        if line and not line.startswith("-----") and ": " not in line
    )
    public = "".join(public_key.split())
    runs = [body[i : i + 40] for i in range(0, max(len(body) - 40, 1), 40)]
    return [private_key, *(run for run in runs if len(run) == 40 and run not in public)]


class RecordingClient(Client):
    """A client that remembers every secret it sends or receives."""

    secrets: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = []

    def as_user(self, token: str | None, version: str | None = None) -> RecordingClient:
        other = RecordingClient(self.app, token, version if version is not None else self.version)
        other.secrets = self.secrets
        return other

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if self.token:
            self.secrets.append(self.token)
        passphrase = (body or {}).get("keypair", {}).get("passphrase") if body else None
        if passphrase:
            self.secrets.append(passphrase)
        response = super().request(method, path, body, **kw)
        if response.content_type == "application/json" and response.body:
            keypair = response.json.get("keypair") if isinstance(response.json, dict) else None
            if isinstance(keypair, dict) and keypair.get("private_key"):
                self.secrets.extend(
                    secret_parts(keypair["private_key"], keypair.get("public_key", ""))
                )
        return response


class Bus:
    """A host that publishes to a test's own topics, and a consumer of them."""

    def __init__(self, host: Any, topics: Topics, consumer: Consumer) -> None:
        self.host = host
        self.topics = topics
        self.consumer = consumer
        self.client = RecordingClient(host.api, token="user1:project1")


def make_bus(database_url: str, state_path: str, fmt: str = "both", **overrides: Any) -> Bus:
    need_rabbitmq()
    topics = Topics()
    consumer = Consumer(topics)
    host = build_host(database_url, state_path, **{**topics.overrides(fmt), **overrides})
    return Bus(host, topics, consumer)


def close_bus(bus: Bus) -> None:
    # The caller's token (noauth2's "user:project") is among the secrets.
    try:
        bus.consumer.scan(bus.client.secrets)
    finally:
        bus.host.close()
        bus.consumer.close()


# --- A TCP proxy in front of RabbitMQ that a test can close -------------------------


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    need_rabbitmq()
    proxy = Proxy(rabbit_address())
    yield proxy
    proxy.close()
