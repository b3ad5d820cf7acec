"""What the message bus adds to a keypair call: healthy, refusing, hung.

    python -m bench.notifications [--calls 200] [--send-wait 0.5]

Builds the reference host in process on SQLite with notifications on
(``notification_format = both``, RabbitMQ on 127.0.0.1:5672 through a local
proxy port), and times import + delete pairs (8 events each) one at a time:

* ``no bus``: no driver configured (the baseline);
* ``healthy``: the bus takes every event;
* ``refused``: the proxy port is closed (connection refused);
* ``hung``: the port accepts and never answers.

For each phase it prints the median, p99 and maximum of a call, and the
first call of the phase (the one that may wait ``send_wait``).  Not a test:
nothing here asserts a time.  Uses the tests' proxy and consumer
(``tests/functional/bus_support.py``) so that the measured setup is the
tested one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

from tests.conftest import Client, build_host
from tests.functional import bus_support
from tests.functional.keypairs_helpers import ed25519_line

VERSION = "2.2"


def _time_pairs(client: Client, calls: int, tag: str) -> list[float]:
    line = ed25519_line()
    took = []
    for i in range(calls):
        for method, path, body, status in (
            (
                "POST",
                "/v2.1/os-keypairs",
                {"keypair": {"name": f"{tag}{i}", "public_key": line}},
                201,
            ),
            ("DELETE", f"/v2.1/os-keypairs/{tag}{i}", None, 204),
        ):
            started = time.perf_counter()
            response = client.request(method, path, body)
            took.append(time.perf_counter() - started)
            assert response.status_int == status, response.text
    return took


def _report(phase: str, took: list[float]) -> None:
    ordered = sorted(took)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{phase:8}  median {statistics.median(took) * 1000:7.2f} ms   "
        f"p99 {p99 * 1000:7.2f} ms   max {max(took) * 1000:7.2f} ms   "
        f"first {took[0] * 1000:7.2f} ms   ({len(took)} calls)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="import+delete pairs per phase")
    parser.add_argument("--send-wait", type=float, default=0.5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        plain = build_host(f"sqlite:///{workdir}/plain.sqlite", workdir)
        _report("no bus", _time_pairs(Client(plain.api, "bench:bench", VERSION), args.calls, "p"))
        plain.close()

        proxy = bus_support.Proxy()
        topics = bus_support.Topics()
        consumer = bus_support.Consumer(topics)
        overrides: dict[str, Any] = {
            **topics.overrides("both", proxy.address),
            "oslo_messaging_notifications__retry": 0,
            "notifications__send_wait": args.send_wait,
        }
        host = build_host(f"sqlite:///{workdir}/bus.sqlite", workdir, **overrides)
        client = Client(host.api, "bench:bench", VERSION)
        try:
            _time_pairs(client, 10, "w")  # connect and warm up
            _report("healthy", _time_pairs(client, args.calls, "h"))
            proxy.stop()
            _report("refused", _time_pairs(client, args.calls, "r"))
            proxy.start()
            _time_pairs(client, 10, "back")
            proxy.blackhole()
            _report("hung", _time_pairs(client, args.calls, "b"))
        finally:
            host.close()
            proxy.close()
            consumer.close()


if __name__ == "__main__":
    main()
