"""What the message bus adds to a keypair call: healthy, refusing, hung.

    python -m bench.notifications [--calls 100] [--send-wait 0.5] [--rabbitmq 127.0.0.1:5672]

Builds the reference host in process on SQLite, and times import + delete
pairs (eight events each with ``notification_format = both``) one at a time
through the WSGI application:

* ``no bus``: no driver configured (the baseline);
* ``healthy``: RabbitMQ takes every event (through a local proxy port,
  :mod:`bench.tcp_proxy`);
* ``refused``: the proxy port is closed (connection refused);
* ``hung``: the port accepts connections and never answers (a new host,
  whose first send waits for a connection that never comes).

For each phase it prints the median, p99 and maximum of a call and the
first call of the phase (the one that may wait ``send_wait``).  The queues
the publisher declares are deleted at the end.  Not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from typing import Any

import webob
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bench.tcp_proxy import Proxy

VERSION = "2.2"
TOKEN = "bench:bench"


def _public_line() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _host(workdir: str, name: str, overrides: dict[str, Any]) -> Any:
    from keypairs_ext.host import app, loader, notifications
    from keypairs_ext.host.db import migrate

    conf = app.make_conf([])
    conf.set_override("state_path", workdir)
    conf.set_override("connection", f"sqlite:///{workdir}/{name}.sqlite", group="database")
    if overrides:
        notifications.register_bus_opts(conf)
    for key, value in overrides.items():
        group, _, option = key.partition("__")
        conf.set_override(option, value, group=None if group == "DEFAULT" else group)
    classes = loader.select(loader.find_installed(), conf.api.enabled_extensions)
    for cls in classes:
        cls.register_opts(conf)
    host = app.build(conf)
    migrate.sync(host.database.writer.get_engine(), classes)
    return host


def _call(api: Any, method: str, path: str, body: Any, status: int) -> float:
    request = webob.Request.blank(path, method=method)
    request.headers["X-Auth-Token"] = TOKEN
    request.headers["OpenStack-API-Version"] = f"compute {VERSION}"
    if body is not None:
        request.body = json.dumps(body).encode()
        request.content_type = "application/json"
    started = time.perf_counter()
    response = request.get_response(api)
    took = time.perf_counter() - started
    assert response.status_int == status, response.text
    return took


def _time_pairs(api: Any, calls: int, tag: str) -> list[float]:
    line = _public_line()
    took = []
    for i in range(calls):
        body = {"keypair": {"name": f"{tag}{i}", "public_key": line}}
        took.append(_call(api, "POST", "/v2.1/os-keypairs", body, 201))
        took.append(_call(api, "DELETE", f"/v2.1/os-keypairs/{tag}{i}", None, 204))
    return took


def _report(phase: str, took: list[float]) -> None:
    ordered = sorted(took)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{phase:8}  median {statistics.median(took) * 1000:7.2f} ms   "
        f"p99 {p99 * 1000:7.2f} ms   max {max(took) * 1000:7.2f} ms   "
        f"first {took[0] * 1000:7.2f} ms   ({len(took)} calls)"
    )


def _delete_queues(rabbitmq: str, topics: list[str]) -> None:
    from kombu import Connection, Exchange, Queue

    exchange = Exchange("nova", type="topic", durable=False, auto_delete=False)
    with Connection(f"amqp://guest:guest@{rabbitmq}//") as connection:
        channel = connection.channel()
        for topic in topics:
            for priority in ("info", "error"):
                Queue(f"{topic}.{priority}", exchange=exchange)(channel).delete()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="import+delete pairs per phase")
    parser.add_argument("--send-wait", type=float, default=0.5)
    parser.add_argument("--rabbitmq", default="127.0.0.1:5672", help="host:port (guest/guest)")
    args = parser.parse_args(argv)
    address, _, port = args.rabbitmq.rpartition(":")

    with tempfile.TemporaryDirectory() as workdir:
        plain = _host(workdir, "plain", {})
        _time_pairs(plain.api, 10, "w")
        _report("no bus", _time_pairs(plain.api, args.calls, "p"))
        plain.close()

        proxy = Proxy((address, int(port)))
        tag = uuid.uuid4().hex[:8]
        topics = [f"bench-{tag}-notifications", f"bench-{tag}-versioned"]
        overrides = {
            "DEFAULT__transport_url": f"rabbit://guest:guest@127.0.0.1:{proxy.address[1]}/",
            "oslo_messaging_notifications__driver": ["messagingv2"],
            "oslo_messaging_notifications__topics": [topics[0]],
            "oslo_messaging_notifications__retry": 0,
            "notifications__notification_format": "both",
            "notifications__versioned_notifications_topics": [topics[1]],
            "notifications__send_wait": args.send_wait,
        }
        hosts = [_host(workdir, "bus", overrides)]
        try:
            api = hosts[0].api
            _time_pairs(api, 10, "w")  # connect and warm up
            _report("healthy", _time_pairs(api, args.calls, "h"))
            proxy.stop()
            _report("refused", _time_pairs(api, args.calls, "r"))
            # A host whose first connection hangs: its first send times out.
            proxy.start()
            proxy.blackhole()
            hosts.append(_host(workdir, "hung", overrides))
            _report("hung", _time_pairs(hosts[1].api, args.calls, "b"))
        finally:
            for host in hosts:
                host.close()
            proxy.close()
            _delete_queues(args.rabbitmq, topics)


if __name__ == "__main__":
    main()
