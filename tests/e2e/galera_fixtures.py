"""Fixtures of the high-availability tests: a Galera cluster and API hosts on it.

One cluster per test session (it takes about ten seconds to start), in the
xdist group ``galera`` so that only one worker starts it. Every API host is a
real ``keypairs-api`` process talking to one node; the schema is migrated
once, by ``keypairs-manage db sync``, before any host starts, as the
operator guide says to do for a cluster.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests import conftest as root
from tests.e2e.api_process import ApiProcess
from tests.e2e.galera_cluster import PROVIDERS, GaleraCluster, Node, provider
from tests.support import command, write_config

GROUP = "galera"
QUOTA = 10
# What an HA deployment sets (doc/source/user/high-availability.rst): reads
# wait until the node has applied every write the cluster committed before.
SYNC_WAIT = 1
IMPORT_VERSION = "2.35"
# A delete answers 202 before 2.2 and 204 from it on.
DELETED = (202, 204)


def need_galera() -> None:
    """The Debian packages the cluster needs; fail (CI) or skip without them."""
    root.need_program("/usr/sbin/mariadbd", "mariadb-server")
    root.need_program("mariadb-install-db", "mariadb-server")
    root.need_program(provider() or PROVIDERS[0], "galera-4")
    root.need_program("rsync", "rsync")
    root.need_program("ss", "iproute2")  # rsync state transfer checks its port with ss
    if os.geteuid() != 0:
        # The nodes drop to the mysql user; only root can hand them their files.
        message = "the Galera cluster is started as root (its nodes then run as mysql)"
        if root.REQUIRE_SERVERS:
            pytest.fail(message + " (KEYPAIRS_REQUIRE_SERVERS=1)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def galera_cluster() -> Iterator[GaleraCluster]:
    need_galera()
    cluster = GaleraCluster(3)
    try:
        cluster.start(timeout=120)
    except Exception as error:
        cluster.stop()
        pytest.fail(f"the Galera cluster did not start: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class GaleraDatabase:
    cluster: GaleraCluster
    name: str

    def url(self, node: Node) -> str:
        return node.url(self.name)

    def connect(self, node: Node | None = None) -> Any:
        node = node or self.cluster.nodes[0]
        from tests.e2e.galera_cluster import PASSWORD, USER

        return pymysql.connect(
            host="127.0.0.1",
            port=node.port,
            user=USER,
            password=PASSWORD,
            database=self.name,
            autocommit=True,
            init_command=f"SET SESSION wsrep_sync_wait = {SYNC_WAIT}",
        )

    def query(self, sql: str, *args: Any, node: Node | None = None) -> list[tuple]:
        connection = self.connect(node)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()


def new_database(cluster: GaleraCluster, workdir: Path) -> GaleraDatabase:
    """A database on the cluster, migrated once with ``keypairs-manage db sync``."""
    name = f"keypairs_{uuid.uuid4().hex[:10]}"
    first = cluster.nodes[0]
    first.sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    config = write_config(workdir / "manage.conf", {"database": {"connection": first.url(name)}})
    synced = subprocess.run(
        [command("keypairs-manage"), "--config-file", str(config), "db", "sync"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert synced.returncode == 0, synced.stderr
    return GaleraDatabase(cluster, name)


def host_sections(database_url: str, **extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {
        "database": {"connection": database_url, "mysql_wsrep_sync_wait": SYNC_WAIT},
        "quota": {"key_pairs": QUOTA},
        "metadata": {"enabled": "false"},
    }
    for section, options in extra.items():
        sections.setdefault(section, {}).update(options)
    return sections


def start_hosts(
    galera_database: GaleraDatabase, workdir: Path, nodes: Sequence[Node], **extra: dict[str, Any]
) -> list[ApiProcess]:
    """One ``keypairs-api`` per node of ``nodes``, each talking to that node only,
    started side by side (the schema is already at its head: none migrates)."""
    hosts = []
    for index, node in enumerate(nodes, start=1):
        directory = workdir / f"host{index}"
        directory.mkdir(parents=True)
        hosts.append(ApiProcess(directory, **host_sections(galera_database.url(node), **extra)))
    with ThreadPoolExecutor(len(hosts)) as pool:
        # Bounded, and generous: a busy two-core machine starts three at once.
        started = [pool.submit(host.start, 120) for host in hosts]
    try:
        for future in started:
            future.result()
    except Exception:
        for host in hosts:
            host.stop()
        raise
    return hosts


@pytest.fixture(scope="session")
def galera_database(
    galera_cluster: GaleraCluster, tmp_path_factory: pytest.TempPathFactory
) -> GaleraDatabase:
    return new_database(galera_cluster, tmp_path_factory.mktemp("galera-db"))


@pytest.fixture(scope="session")
def galera_hosts(
    galera_cluster: GaleraCluster,
    galera_database: GaleraDatabase,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[ApiProcess]]:
    """Three API hosts, host N on node N."""
    hosts = start_hosts(
        galera_database, tmp_path_factory.mktemp("galera-hosts"), galera_cluster.nodes
    )
    try:
        yield hosts
    finally:
        for host in hosts:
            host.stop()


# --- the client side --------------------------------------------------------------


def token(user: str) -> str:
    return f"{user}:project-ha"


def new_user(prefix: str = "ha") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(
    port: int,
    method: str,
    path: str,
    user: str,
    body: Any = None,
    timeout: float = 60,
) -> tuple[int, Any]:
    """One request to the compute API on 127.0.0.1:``port``; (status, JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"X-Auth-Token": token(user), "OpenStack-API-Version": f"compute {IMPORT_VERSION}"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, "/v2.1" + path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw.decode(errors="replace")
    return response.status, decoded


def import_body(name: str) -> dict[str, Any]:
    from tests.e2e.conftest import ed25519_keypair

    return {"keypair": {"name": name, "public_key": ed25519_keypair()[1]}}


def together(calls: Sequence[Callable[[], tuple[int, Any]]]) -> list[tuple[int, Any]]:
    """Run every call at once (threads released by one barrier); their answers."""
    answers: list[tuple[int, Any] | None] = [None] * len(calls)
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        try:
            start.wait(timeout=60)
            answers[index] = calls[index]()
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def statuses(answers: Sequence[tuple[int, Any]]) -> Counter[int]:
    return Counter(status for status, _ in answers)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Seconds until ``predicate()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"not true after {timeout} s")


def fault(body: Any) -> str:
    """The compute fault envelope's one key (``conflictingRequest``...)."""
    assert isinstance(body, dict) and len(body) == 1, body
    (name,) = body
    assert body[name]["code"] in range(400, 600) and body[name]["message"], body
    return name
