"""Races on each database: gunicorn with four worker processes.

SPEC §8: uniqueness and quota are enforced by the database under concurrency,
not by check-then-insert in Python; §3: N parallel creates never leave more
than the limit.  Real HTTP clients in a thread pool hit a real gunicorn (4
processes x 4 threads, so requests truly run in parallel in different
processes) on a fresh database migrated by ``keypairs-manage db sync``:
SQLite, PostgreSQL and MariaDB, where the same statements lock differently
(a lost race there must still never answer 503).  The races themselves are
in :mod:`tests.functional.races`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import conftest
from tests.functional import races
from tests.functional import robustness_support as support
from tests.support import free_port, write_config

SERVERS = {"postgresql": conftest.POSTGRESQL_URL, "mysql": conftest.MYSQL_URL}


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[races.Hosts]:
    tmp = tmp_path_factory.mktemp(f"races-{request.param}")
    server = SERVERS.get(request.param)
    if server is None:
        url = f"sqlite:///{tmp}/keypairs.sqlite"
    else:
        conftest._need(server, request.param)
        url = conftest.create_database(server)
    port = free_port()
    config = write_config(
        tmp / "keypairs.conf",
        {
            "DEFAULT": {"state_path": tmp},
            "database": {"connection": url, "max_pool_size": 4, "max_overflow": 8},
            "quota": {"key_pairs": races.QUOTA, "shared_key_pairs": races.QUOTA},
        },
    )
    service = None
    hosts = None
    try:
        support.db_sync(config)
        service = support.gunicorn(config, port, tmp / "gunicorn.log", workers=4, threads=4)
        service.wait_ready()
        hosts = races.Hosts([port], url)
        # Let every worker build its host before the races start.
        with ThreadPoolExecutor(16) as pool:
            warm = list(pool.map(lambda _: hosts.call("GET", races.KP, user="warm"), range(32)))
        assert {r.status for r in warm} == {200}
        yield hosts
        assert "Traceback" not in service.log()
    finally:
        if service is not None:
            service.stop()
        if hosts is not None:
            hosts.close()
        if server is not None:
            conftest.drop_database(server, url)


def test_concurrent_creates_of_one_name_leave_exactly_one(deployment: races.Hosts) -> None:
    races.same_name(deployment)


def test_concurrent_imports_never_exceed_the_quota(deployment: races.Hosts) -> None:
    races.quota(deployment)


def test_concurrent_deletes_of_one_name_delete_it_once(deployment: races.Hosts) -> None:
    races.delete_one_name(deployment)


def test_concurrent_create_show_delete_of_one_name_never_fail(deployment: races.Hosts) -> None:
    races.churn(deployment)


def test_concurrent_shared_creates_never_exceed_the_project_quota(
    deployment: races.Hosts,
) -> None:
    races.shared_quota(deployment, deployment.engine)


def test_deleting_a_shared_key_while_servers_boot_with_it_is_safe(
    deployment: races.Hosts,
) -> None:
    races.delete_shared_while_booting(deployment)
