"""Races on PostgreSQL: one database, gunicorn with four worker processes.

SPEC §8: uniqueness and quota are enforced by the database under concurrency,
not by check-then-insert in Python; §3: N parallel creates never leave more
than the limit.  Real HTTP clients in a thread pool hit a real gunicorn (4
processes x 4 threads, so requests truly run in parallel in different
processes) on a fresh PostgreSQL database migrated by ``keypairs-manage db
sync``.  Every claim is checked through the API and by counting rows.
"""

from __future__ import annotations

import collections
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from tests import conftest
from tests.functional import robustness_support as support
from tests.support import ed25519_line, free_port, write_config

pytestmark = pytest.mark.postgresql

QUOTA = 10
VERSION = "2.92"


class Deployment:
    def __init__(self, port: int, url: str) -> None:
        self.port = port
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def call(self, method: str, path: str, body: Any = None, *, user: str, **kw: Any):
        return support.call(
            self.port, method, path, body, token=f"{user}:project1", version=VERSION, **kw
        )

    def rows(self, user: str) -> tuple[int, int | None]:
        """(keypair rows, usage in_use) of ``user``, straight from the database."""
        with self.engine.connect() as connection:
            count = connection.execute(
                sa.text("SELECT count(*) FROM key_pairs WHERE user_id = :u"), {"u": user}
            ).scalar_one()
            in_use = connection.execute(
                sa.text("SELECT in_use FROM key_pair_usages WHERE user_id = :u"), {"u": user}
            ).scalar()
        return count, in_use


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    conftest._need(conftest.POSTGRESQL_URL, "PostgreSQL")
    url = conftest.create_database(conftest.POSTGRESQL_URL)
    tmp = tmp_path_factory.mktemp("races")
    port = free_port()
    config = write_config(
        tmp / "keypairs.conf",
        {
            "DEFAULT": {"state_path": tmp},
            "database": {"connection": url, "max_pool_size": 4, "max_overflow": 8},
            "quota": {"key_pairs": QUOTA},
        },
    )
    service = None
    deployment = None
    try:
        support.db_sync(config)
        service = support.gunicorn(config, port, tmp / "gunicorn.log", workers=4, threads=4)
        service.wait_ready()
        deployment = Deployment(port, url)
        # Let every worker build its host before the races start.
        with ThreadPoolExecutor(16) as pool:
            warm = list(
                pool.map(
                    lambda _: deployment.call("GET", "/v2.1/os-keypairs", user="warm"), range(32)
                )
            )
        assert {r.status for r in warm} == {200}
        yield deployment
        assert "Traceback" not in service.log()
    finally:
        if service is not None:
            service.stop()
        if deployment is not None:
            deployment.engine.dispose()
        conftest.drop_database(conftest.POSTGRESQL_URL, url)


def all_at_once(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run every task in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(tasks))

    def run(task: Callable[[], Any]) -> Any:
        barrier.wait(timeout=60)
        return task()

    with ThreadPoolExecutor(len(tasks)) as pool:
        return list(pool.map(run, tasks))


def new_user() -> str:
    return f"racer-{uuid.uuid4().hex[:10]}"


def test_concurrent_creates_of_one_name_leave_exactly_one(deployment: Deployment) -> None:
    user = new_user()
    keys = [ed25519_line() for _ in range(50)]
    replies = all_at_once(
        [
            lambda key=key: deployment.call(
                "POST",
                "/v2.1/os-keypairs",
                {"keypair": {"name": "x", "public_key": key}},
                user=user,
            )
            for key in keys
        ]
    )
    statuses = collections.Counter(r.status for r in replies)
    assert statuses == {201: 1, 409: 49}, statuses
    for reply in replies:
        if reply.status == 409:
            assert reply.fault() == ("conflictingRequest", 409, "Key pair 'x' already exists.")
    (winner,) = [r for r in replies if r.status == 201]
    listed = deployment.call("GET", "/v2.1/os-keypairs", user=user).json["keypairs"]
    assert [k["keypair"]["public_key"] for k in listed] == [winner.json["keypair"]["public_key"]]
    # The losers' quota reservations were rolled back with their inserts.
    assert deployment.rows(user) == (1, 1)


def test_concurrent_imports_never_exceed_the_quota(deployment: Deployment) -> None:
    user = new_user()
    replies = all_at_once(
        [
            lambda i=i: deployment.call(
                "POST",
                "/v2.1/os-keypairs",
                {"keypair": {"name": f"k{i:03d}", "public_key": ed25519_line()}},
                user=user,
            )
            for i in range(100)
        ]
    )
    statuses = collections.Counter(r.status for r in replies)
    assert statuses == {201: QUOTA, 403: 100 - QUOTA}, statuses
    for reply in replies:
        if reply.status == 403:
            assert reply.fault() == ("forbidden", 403, "Quota exceeded, too many key pairs.")
    created = sorted(r.json["keypair"]["name"] for r in replies if r.status == 201)
    listed = deployment.call("GET", "/v2.1/os-keypairs", user=user).json["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == created
    assert deployment.rows(user) == (QUOTA, QUOTA)
    # Full means full: one more is refused, and freeing one makes room for one.
    extra = {"keypair": {"name": "extra", "public_key": ed25519_line()}}
    assert deployment.call("POST", "/v2.1/os-keypairs", extra, user=user).status == 403
    assert deployment.call("DELETE", f"/v2.1/os-keypairs/{created[0]}", user=user).status == 204
    assert deployment.call("POST", "/v2.1/os-keypairs", extra, user=user).status == 201
    assert deployment.rows(user) == (QUOTA, QUOTA)


def test_concurrent_create_show_delete_of_one_name_never_fail(deployment: Deployment) -> None:
    user = new_user()
    expected = {"POST": {201, 409}, "GET": {200, 404}, "DELETE": {204, 404}}
    operations = ["POST"] * 120 + ["GET"] * 120 + ["DELETE"] * 120
    random.Random(7).shuffle(operations)

    def run(method: str):
        if method == "POST":
            body = {"keypair": {"name": "churn", "public_key": ed25519_line()}}
            return method, deployment.call(method, "/v2.1/os-keypairs", body, user=user)
        return method, deployment.call(method, "/v2.1/os-keypairs/churn", user=user)

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(run, operations))
    seen = collections.Counter((method, reply.status) for method, reply in results)
    for method, reply in results:
        assert reply.status in expected[method], (method, reply.status, reply.text)
        if reply.status >= 400:
            name, _, _ = reply.fault()
            assert name in ("conflictingRequest", "itemNotFound")
    # The churn really interleaved: every outcome happened.
    assert {status for (_, status) in seen} >= {200, 201, 204, 404}, seen
    count, in_use = deployment.rows(user)
    assert count in (0, 1) and in_use == count, (count, in_use)
    shown = deployment.call("GET", "/v2.1/os-keypairs/churn", user=user)
    assert shown.status == (200 if count else 404)
