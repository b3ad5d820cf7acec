"""Imports per second on one API host against three, on a three-node Galera cluster.

Starts the test suite's private cluster (tests/e2e/galera_cluster.py: root,
Debian's mariadb-server and galera-4), migrates one database with
``keypairs-manage db sync``, then for each layout starts its hosts and runs
``--clients`` threads importing distinct ed25519 keys for ``--seconds``:

* ``one host``: one ``keypairs-api`` on node 1;
* ``three hosts, one writer``: three hosts all on node 1 (the single-writer
  layout OpenStack's HA guide recommends, as HAProxy with backup nodes gives);
* ``three hosts, three writers``: host N on node N (multi-writer).

Each three-host layout runs again with ``mysql_wsrep_sync_wait = 0``: what
the causality check of every read costs (the others use 1, as
doc/source/user/high-availability.rst says).

Clients are spread over the layout's hosts. Every answer must be a 201.
Run: ``python -m bench.ha`` (``--seconds 10 --clients 12`` by default).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tests.e2e import galera_fixtures as fixtures
from tests.e2e.conftest import ed25519_keypair
from tests.e2e.galera_cluster import GaleraCluster


def imports(ports: list[int], clients: int, seconds: float) -> tuple[int, list[int]]:
    """(201s, other statuses) of ``clients`` threads importing for ``seconds``."""
    keys = [ed25519_keypair()[1] for _ in range(200)]
    created = [0] * clients
    failed: list[int] = []
    start = threading.Barrier(clients + 1)
    window: list[float] = []  # the end, set when every client is ready

    def client(index: int) -> None:
        port = ports[index % len(ports)]
        user = f"bench-{uuid.uuid4().hex[:10]}"
        start.wait()
        for i in itertools.count():
            if time.monotonic() >= window[0]:
                return
            body = {"keypair": {"name": f"k{i:06d}", "public_key": keys[i % len(keys)]}}
            status, _ = fixtures.call(port, "POST", "/os-keypairs", user, body)
            if status == 201:
                created[index] += 1
            else:
                failed.append(status)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    window.append(time.monotonic() + seconds)
    start.wait()
    for thread in threads:
        thread.join()
    return sum(created), failed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=12)
    args = parser.parse_args(argv)

    cluster = GaleraCluster(3).start()
    try:
        workdir = Path(tempfile.mkdtemp(prefix="bench-ha-"))
        database = fixtures.new_database(cluster, workdir)
        first = cluster.nodes[0]
        # (label, nodes of the hosts, [database] mysql_wsrep_sync_wait)
        layouts = [
            ("one host", [first], fixtures.SYNC_WAIT),
            ("three hosts, one writer", [first, first, first], fixtures.SYNC_WAIT),
            ("the same, wsrep_sync_wait 0", [first, first, first], 0),
            ("three hosts, three writers", cluster.nodes, fixtures.SYNC_WAIT),
            ("the same, wsrep_sync_wait 0", cluster.nodes, 0),
        ]
        baseline = None
        for index, (label, nodes, sync_wait) in enumerate(layouts):
            hosts = fixtures.start_hosts(
                database,
                workdir / f"layout{index}",
                nodes,
                quota={"key_pairs": 10**7},
                database={"mysql_wsrep_sync_wait": sync_wait},
            )
            try:
                imports([h.port for h in hosts], args.clients, 1)  # warm pools and caches
                created, failed = imports([h.port for h in hosts], args.clients, args.seconds)
            finally:
                for host in hosts:
                    host.stop()
            rate = created / args.seconds
            baseline = baseline or rate
            print(
                f"{label:29} {rate:7.1f} imports/s  x{rate / baseline:.2f}"
                f"  ({len(failed)} not 201: {sorted(set(failed))})"
            )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
