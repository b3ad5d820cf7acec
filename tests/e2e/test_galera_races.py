"""Races and read-your-writes across API hosts on a three-node Galera cluster.

Host N talks to node N only (multi-writer, the harder case): the races of a
single server are spread over hosts and nodes, where Galera adds its
certification conflicts to InnoDB's deadlocks, and every race must still
answer as on PostgreSQL, never 503. A write on one host is read at once on
another (``[database] mysql_wsrep_sync_wait = 1``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.api_process import ApiProcess
from tests.e2e.galera_fixtures import (
    DELETED,
    GROUP,
    QUOTA,
    GaleraDatabase,
    call,
    fault,
    import_body,
    new_user,
    statuses,
    together,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(GROUP)]


def spread(hosts: list[ApiProcess], count: int) -> list[int]:
    """``count`` ports, round-robin over the hosts (so over the nodes)."""
    return [hosts[i % len(hosts)].port for i in range(count)]


def rows(database: GaleraDatabase, user: str, node: Any = None) -> list[str]:
    return [
        name
        for (name,) in database.query(
            "SELECT name FROM key_pairs WHERE user_id = %s ORDER BY name", user, node=node
        )
    ]


def usage(database: GaleraDatabase, user: str) -> int:
    found = database.query("SELECT in_use FROM key_pair_usages WHERE user_id = %s", user)
    return found[0][0] if found else 0


# --- races ------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_one_name_imported_on_every_host_at_once(
    galera_hosts: list[ApiProcess], galera_database: GaleraDatabase, round_: int
) -> None:
    user, name, burst = new_user("same"), "shared-name", 30
    answers = together(
        [
            lambda port=port: call(port, "POST", "/os-keypairs", user, import_body(name))
            for port in spread(galera_hosts, burst)
        ]
    )
    assert statuses(answers) == {201: 1, 409: burst - 1}, answers
    assert {fault(body) for status, body in answers if status == 409} == {"conflictingRequest"}
    assert rows(galera_database, user) == [name]
    assert usage(galera_database, user) == 1


def test_distinct_names_past_the_quota_on_every_host(
    galera_hosts: list[ApiProcess], galera_database: GaleraDatabase
) -> None:
    user, burst = new_user("quota"), 40
    answers = together(
        [
            lambda port=port, i=i: call(
                port, "POST", "/os-keypairs", user, import_body(f"k{i:02d}")
            )
            for i, port in enumerate(spread(galera_hosts, burst))
        ]
    )
    assert statuses(answers) == {201: QUOTA, 403: burst - QUOTA}, answers
    for status, body in answers:
        if status == 403:
            assert fault(body) == "forbidden"
            assert "Quota exceeded" in body["forbidden"]["message"], body
    created = sorted(body["keypair"]["name"] for status, body in answers if status == 201)
    assert rows(galera_database, user) == created
    assert usage(galera_database, user) == QUOTA


def test_one_name_deleted_on_every_host_at_once(
    galera_hosts: list[ApiProcess], galera_database: GaleraDatabase
) -> None:
    user, burst = new_user("delete"), 30
    status, body = call(galera_hosts[0].port, "POST", "/os-keypairs", user, import_body("gone"))
    assert status == 201, body
    answers = together(
        [
            lambda port=port: call(port, "DELETE", "/os-keypairs/gone", user)
            for port in spread(galera_hosts, burst)
        ]
    )
    counted = statuses(answers)
    assert sum(counted[s] for s in DELETED) == 1 and counted[404] == burst - 1, answers
    assert {fault(body) for status, body in answers if status == 404} == {"itemNotFound"}
    assert rows(galera_database, user) == []
    assert usage(galera_database, user) == 0


# --- read-your-writes ---------------------------------------------------------------


def test_a_write_on_one_host_is_read_at_once_on_the_next(
    galera_hosts: list[ApiProcess],
) -> None:
    """With ``mysql_wsrep_sync_wait = 1`` a read waits until its node has
    applied what the cluster committed before it: no 404 after a 201."""
    user = new_user("ryw")
    ports = [host.port for host in galera_hosts]
    for i in range(60):
        writer, reader, deleter = ports[i % 3], ports[(i + 1) % 3], ports[(i + 2) % 3]
        name = f"ryw-{i:02d}"
        status, created = call(writer, "POST", "/os-keypairs", user, import_body(name))
        assert status == 201, created
        status, shown = call(reader, "GET", f"/os-keypairs/{name}", user)
        assert status == 200, (i, shown)
        assert shown["keypair"]["fingerprint"] == created["keypair"]["fingerprint"]
        status, body = call(deleter, "DELETE", f"/os-keypairs/{name}", user)
        assert status in DELETED, body
        status, body = call(writer, "GET", f"/os-keypairs/{name}", user)
        assert status == 404, (i, body)
