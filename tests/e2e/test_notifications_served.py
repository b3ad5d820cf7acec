"""Notifications from a served ``keypairs-api``: two forked workers, a real broker.

The in-process tests prove the messages; this one proves the process model:
each worker starts its own publisher after the fork, the events of every
call reach RabbitMQ in order whichever worker served it, and the request id
in each event is the one the client got back.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.e2e.api_process import ApiProcess
from tests.functional import bus_support
from tests.support import ed25519_line

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("rabbitmq")]


def _call(api: ApiProcess, method: str, path: str, body: Any = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    headers = {"X-Auth-Token": "user1:project1", "OpenStack-API-Version": "compute 2.2"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    connection.request(method, "/v2.1" + path, body=payload, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, response.getheader("x-openstack-request-id") or ""


def test_served_workers_publish_every_call(tmp_path):
    bus_support.need_rabbitmq()
    topics = bus_support.Topics()
    consumer = bus_support.Consumer(topics)
    api = ApiProcess(
        tmp_path,
        DEFAULT={"transport_url": bus_support.transport_url(), "host": "served-api"},
        api={"workers": 2, "threads": 4},
        oslo_messaging_notifications={"driver": "messagingv2", "topics": topics.legacy},
        notifications={
            "notification_format": "both",
            "versioned_notifications_topics": topics.versioned,
        },
    )
    try:
        api.start()
        calls = []
        for i in range(6):
            name = f"served{i}"
            body = {"keypair": {"name": name, "public_key": ed25519_line()}}
            calls.append(("import", name, *_call(api, "POST", "/os-keypairs", body)))
            calls.append(("delete", name, *_call(api, "DELETE", f"/os-keypairs/{name}")))
        assert [status for *_, status, _ in calls] == [201, 204] * 6
        received = consumer.take(4 * len(calls), timeout=30)
        for index, (action, name, _, request_id) in enumerate(calls):
            events = received[4 * index : 4 * index + 4]
            assert [m.event_type for m in events] == [
                f"keypair.{action}.start",
                f"keypair.{action}.start",
                f"keypair.{action}.end",
                f"keypair.{action}.end",
            ]
            assert [m.body["publisher_id"] for m in events] == [
                "api.served-api",
                "nova-api:served-api",
                "nova-api:served-api",
                "api.served-api",
            ]
            assert {m.body["_context_request_id"] for m in events} == {request_id}
            assert events[0].payload["key_name"] == name
        consumer.nothing_more()
        consumer.scan(["user1:project1"])
    finally:
        api.stop()
        consumer.close()
    log = api.log_file.read_text()
    assert "not reaching the message bus" not in log
    assert "ERROR oslo.messaging" not in log
