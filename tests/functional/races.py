"""Races the database must decide, for any deployment of the API.

A deployment is anything with ``call(method, path, body=None, *, user)``
returning a :class:`~tests.functional.robustness_support.Reply` (it may
spread the requests over several hosts) and ``rows(user)`` returning the
user's keypair rows and ``in_use`` counter, read straight from the
database.  Each race checks every answer (never a 503: a deadlock or a
certification conflict is the service's to retry), then the rows.
"""

from __future__ import annotations

import collections
import itertools
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import sqlalchemy as sa

from tests.functional import robustness_support as support
from tests.support import ed25519_line

#: the ``[quota] key_pairs`` a deployment for these races must have
QUOTA = 10
VERSION = "2.92"
KP = "/v2.1/os-keypairs"


class Deployment(Protocol):
    def call(self, method: str, path: str, body: Any = None, *, user: str) -> support.Reply: ...

    def rows(self, user: str) -> tuple[int, int | None]: ...


class Hosts:
    """API hosts on ``ports`` (taken in turn) over the database at ``url``."""

    def __init__(self, ports: Sequence[int], url: str) -> None:
        self._ports = itertools.cycle(ports)
        self._lock = threading.Lock()
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def call(self, method: str, path: str, body: Any = None, *, user: str) -> support.Reply:
        with self._lock:
            port = next(self._ports)
        return support.call(
            port, method, path, body, token=f"{user}:project1", version=VERSION, timeout=60
        )

    def rows(self, user: str) -> tuple[int, int | None]:
        with self.engine.connect() as connection:
            count = connection.execute(
                sa.text("SELECT count(*) FROM key_pairs WHERE user_id = :u"), {"u": user}
            ).scalar_one()
            in_use = connection.execute(
                sa.text("SELECT in_use FROM key_pair_usages WHERE user_id = :u"), {"u": user}
            ).scalar()
        return count, in_use

    def close(self) -> None:
        self.engine.dispose()


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


def _import(deployment: Deployment, user: str, name: str) -> Callable[[], support.Reply]:
    body = {"keypair": {"name": name, "public_key": ed25519_line()}}
    return lambda: deployment.call("POST", KP, body, user=user)


def same_name(deployment: Deployment, racers: int = 30) -> None:
    """Imports of one name for one user: exactly one 201, the rest 409."""
    user = new_user()
    replies = all_at_once([_import(deployment, user, "x") for _ in range(racers)])
    statuses = collections.Counter(r.status for r in replies)
    assert statuses == {201: 1, 409: racers - 1}, statuses
    for reply in replies:
        if reply.status == 409:
            assert reply.fault() == ("conflictingRequest", 409, "Key pair 'x' already exists.")
    (winner,) = [r for r in replies if r.status == 201]
    listed = deployment.call("GET", KP, user=user).json["keypairs"]
    assert [k["keypair"]["public_key"] for k in listed] == [winner.json["keypair"]["public_key"]]
    # The losers' quota reservations were rolled back with their inserts.
    assert deployment.rows(user) == (1, 1)


def quota(deployment: Deployment, racers: int = 40) -> None:
    """Imports of distinct names past the quota: exactly QUOTA created, the rest 403."""
    user = new_user()
    replies = all_at_once([_import(deployment, user, f"k{i:03d}") for i in range(racers)])
    statuses = collections.Counter(r.status for r in replies)
    assert statuses == {201: QUOTA, 403: racers - QUOTA}, statuses
    for reply in replies:
        if reply.status == 403:
            assert reply.fault() == ("forbidden", 403, "Quota exceeded, too many key pairs.")
    created = sorted(r.json["keypair"]["name"] for r in replies if r.status == 201)
    listed = deployment.call("GET", KP, user=user).json["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == created
    assert deployment.rows(user) == (QUOTA, QUOTA)
    # Full means full: one more is refused, and freeing one makes room for one.
    assert _import(deployment, user, "extra")().status == 403
    assert deployment.call("DELETE", f"{KP}/{created[0]}", user=user).status == 204
    assert _import(deployment, user, "extra")().status == 201
    assert deployment.rows(user) == (QUOTA, QUOTA)


def delete_one_name(deployment: Deployment, racers: int = 20) -> None:
    """Deletes of one keypair: exactly one 204, the rest 404."""
    user = new_user()
    assert _import(deployment, user, "doomed")().status == 201
    assert _import(deployment, user, "kept")().status == 201
    replies = all_at_once(
        [lambda: deployment.call("DELETE", f"{KP}/doomed", user=user) for _ in range(racers)]
    )
    statuses = collections.Counter(r.status for r in replies)
    assert statuses == {204: 1, 404: racers - 1}, statuses
    for reply in replies:
        if reply.status == 404:
            assert reply.fault() == (
                "itemNotFound",
                404,
                f"Keypair doomed not found for user {user}",
            )
    assert deployment.rows(user) == (1, 1)


def churn(deployment: Deployment, each: int = 60) -> None:
    """Creates, shows and deletes of one name interleaved: only their normal answers."""
    user = new_user()
    expected = {"POST": {201, 409}, "GET": {200, 404}, "DELETE": {204, 404}}
    operations = ["POST"] * each + ["GET"] * each + ["DELETE"] * each
    random.Random(7).shuffle(operations)

    def run(method: str) -> tuple[str, support.Reply]:
        if method == "POST":
            return method, _import(deployment, user, "churn")()
        return method, deployment.call(method, f"{KP}/churn", user=user)

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
    shown = deployment.call("GET", f"{KP}/churn", user=user)
    assert shown.status == (200 if count else 404)
