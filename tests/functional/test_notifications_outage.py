"""The bus never hurts the API: RabbitMQ refusing, hung, and back again.

The host talks to RabbitMQ through a proxy port of the test's own
(:class:`bus_support.Proxy`); the shared broker is never touched.  Each
call must answer as usual and well within ``send_wait`` plus a margin (a
liveness bound, not a speed figure: ``bench/notifications_outage.py``
measures the delay), and the log must say so once, not once per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional import bus_support
from tests.functional.bus_support import Bus, close_bus, make_bus
from tests.functional.keypairs_helpers import ed25519_line

pytestmark = pytest.mark.xdist_group("rabbitmq")

proxy = bus_support.proxy
# Long enough that a healthy bus on a busy machine never exceeds it.
SEND_WAIT = 1.0
# A call may wait send_wait once, beside its own work (an RSA generation
# on a loaded machine takes seconds); a hang would take far longer.
LIVENESS = SEND_WAIT + 6.0
NOTIFIER_LOG = "keypairs_ext.host.notifications"


@pytest.fixture
def proxied_bus(tmp_path: Any, proxy: bus_support.Proxy) -> Iterator[Any]:
    made: list[Bus] = []

    def build(retry: int) -> Bus:
        bus = make_bus(
            f"sqlite:///{tmp_path}/kp-{len(made)}.sqlite",
            str(tmp_path),
            DEFAULT__transport_url=bus_support.transport_url(proxy.address),
            oslo_messaging_notifications__retry=retry,
            notifications__send_wait=SEND_WAIT,
            oslo_messaging_rabbit__rabbit_retry_interval=1,
            oslo_messaging_rabbit__rabbit_interval_max=1,
        )
        made.append(bus)
        return bus

    yield build
    if not proxy.running:
        proxy.start()
    for bus in made:
        close_bus(bus)


def _calls(client: Any, tag: str) -> list[tuple[str, int, float]]:
    """Every kind of keypair call once: (what, status, seconds)."""
    results = []
    line = ed25519_line()
    plan = [
        (
            "import",
            "POST",
            "/v2.1/os-keypairs",
            {"keypair": {"name": f"i{tag}", "public_key": line}},
            201,
        ),
        ("generate", "POST", "/v2.1/os-keypairs", {"keypair": {"name": f"g{tag}"}}, 201),
        (
            "duplicate",
            "POST",
            "/v2.1/os-keypairs",
            {"keypair": {"name": f"i{tag}", "public_key": line}},
            409,
        ),
        ("show", "GET", f"/v2.1/os-keypairs/i{tag}", None, 200),
        ("list", "GET", "/v2.1/os-keypairs", None, 200),
        ("delete", "DELETE", f"/v2.1/os-keypairs/i{tag}", None, 204),
        ("delete-missing", "DELETE", f"/v2.1/os-keypairs/i{tag}", None, 404),
    ]
    for what, method, path, body, status in plan:
        started = time.monotonic()
        response = client.request(method, path, body)
        took = time.monotonic() - started
        assert response.status_int == status, (what, response.text)
        results.append((what, status, took))
    return results


def _warnings(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("retry", [0, -1])
def test_refused_connection(proxied_bus, proxy, caplog, retry):
    """Connections refused: calls answer; events are dropped (retry 0) or kept
    and sent when the broker is back (retry -1); one warning, one recovery line."""
    caplog.set_level(logging.INFO)
    bus = proxied_bus(retry)
    client = bus.client.as_user("user1:project1", "2.2")
    _calls(client, "before")
    assert len(bus.consumer.take(19)) == 19
    assert _warnings(caplog) == []

    proxy.stop()
    timings = []
    for round_ in range(5):
        timings += _calls(client, f"down{round_}")
    assert max(t for *_, t in timings) < LIVENESS, timings
    # After the first wait, requests no longer wait for the bus at all.
    assert sorted(t for *_, t in timings)[len(timings) // 2] < SEND_WAIT, timings
    down = _warnings(caplog)
    assert [r.name for r in down] == [NOTIFIER_LOG], [r.getMessage() for r in down]
    assert "Notifications are not reaching the message bus" in down[0].getMessage()

    proxy.start()
    caplog.clear()
    if retry == -1:
        # Kept while the broker was away, sent in order when it answers.
        kept = bus.consumer.take(5 * 19, timeout=30)
        assert [m.event_type for m in kept[:4]] == [
            "keypair.import.start",
            "keypair.import.start",
            "keypair.import.end",
            "keypair.import.end",
        ]
    _calls(client, "after")
    deadline = time.monotonic() + 30
    attempt = 0
    # Only the notifier's own line: the calls' audit lines name "again…" keys too.
    while not any(r.name == NOTIFIER_LOG and "again" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "no recovery line"
        attempt += 1
        _calls(client, f"again{attempt}")
    again = [r for r in caplog.records if r.name == NOTIFIER_LOG]
    assert len(again) == 1 and "reach the message bus again" in again[0].getMessage()
    if retry == 0:
        assert "were dropped meanwhile" in again[0].getMessage()
        assert not again[0].getMessage().startswith("Notifications reach the message bus again; 0 ")


def test_hung_broker(proxied_bus, proxy, caplog):
    """The port accepts and never answers, from the first event on: the first
    call waits send_wait once, the others not at all; one warning."""
    caplog.set_level(logging.INFO)
    proxy.blackhole()
    bus = proxied_bus(0)
    client = bus.client.as_user("user1:project1", "2.2")
    timings = []
    for round_ in range(3):
        timings += _calls(client, f"hung{round_}")
    assert max(t for *_, t in timings) < LIVENESS, timings
    assert sorted(t for *_, t in timings)[len(timings) // 2] < SEND_WAIT, timings
    down = _warnings(caplog)
    assert [r.name for r in down] == [NOTIFIER_LOG], [r.getMessage() for r in down]
    assert f"a send took longer than {SEND_WAIT} s" in down[0].getMessage()
    assert proxy.accepted >= 1


def test_broker_dropping_connections(proxied_bus, proxy, caplog):
    """Established connections dropped and new ones hung: calls answer."""
    caplog.set_level(logging.INFO)
    bus = proxied_bus(0)
    client = bus.client.as_user("user1:project1", "2.2")
    _calls(client, "before")
    bus.consumer.take(19)
    proxy.blackhole()
    timings = []
    for round_ in range(3):
        timings += _calls(client, f"hung{round_}")
    assert max(t for *_, t in timings) < LIVENESS, timings
    down = _warnings(caplog)
    assert [r.name for r in down] == [NOTIFIER_LOG], [r.getMessage() for r in down]


def test_send_wait_zero(tmp_path, caplog):
    """send_wait = 0: requests never wait, and the events still come, in order."""
    caplog.set_level(logging.INFO)
    bus = make_bus(f"sqlite:///{tmp_path}/kp.sqlite", str(tmp_path), notifications__send_wait=0)
    try:
        client = bus.client.as_user("user1:project1", "2.2")
        _calls(client, "nowait")
        events = [m.event_type for m in bus.consumer.take(19)]
        assert events[:4] == [
            "keypair.import.start",
            "keypair.import.start",
            "keypair.import.end",
            "keypair.import.end",
        ]
        assert events[-3:] == ["keypair.delete.start", "delete_key_pair", "compute.exception"]
        assert _warnings(caplog) == []
    finally:
        close_bus(bus)
