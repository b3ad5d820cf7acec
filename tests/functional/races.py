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


#: keypairs 1.2 (team keys, key_names) beside the compute version
SHARING = f"{VERSION}, keypairs 1.2"


class Deployment(Protocol):
    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str,
        project: str = "project1",
        version: str = VERSION,
    ) -> support.Reply: ...

    def rows(self, user: str) -> tuple[int, int | None]: ...


class Hosts:
    """API hosts on ``ports`` (taken in turn) over the database at ``url``."""

    def __init__(self, ports: Sequence[int], url: str) -> None:
        self._ports = itertools.cycle(ports)
        self._lock = threading.Lock()
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str,
        project: str = "project1",
        version: str = VERSION,
    ) -> support.Reply:
        with self._lock:
            port = next(self._ports)
        # support.call sends "compute <version>": a contract version rides along.
        return support.call(
            port, method, path, body, token=f"{user}:{project}", version=version, timeout=60
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


# --- team keys (keypairs 1.2) ------------------------------------------------------------


def _share(deployment: Deployment, user: str, project: str, name: str) -> support.Reply:
    body = {"keypair": {"name": name, "public_key": ed25519_line(), "visibility": "project"}}
    return deployment.call("POST", KP, body, user=user, project=project, version=SHARING)


def shared_quota(deployment: Deployment, engine: sa.engine.Engine, racers: int = 40) -> None:
    """Shared creates by as many users of one project past the project's quota:
    exactly QUOTA created, the rest 403, and the counter agrees."""
    project = f"team-{uuid.uuid4().hex[:10]}"
    users = [new_user() for _ in range(racers)]
    replies = all_at_once(
        [lambda u=u, i=i: _share(deployment, u, project, f"s{i:03d}") for i, u in enumerate(users)]
    )
    statuses = collections.Counter(r.status for r in replies)
    assert statuses == {201: QUOTA, 403: racers - QUOTA}, statuses
    for reply in replies:
        if reply.status == 403:
            assert reply.fault() == (
                "forbidden",
                403,
                "Quota exceeded, too many key pairs shared with this project.",
            )
    created = sorted(r.json["keypair"]["name"] for r in replies if r.status == 201)
    listed = deployment.call("GET", KP, user=new_user(), project=project, version=SHARING)
    assert [k["keypair"]["name"] for k in listed.json["keypairs"]] == created
    with engine.connect() as connection:
        shared = connection.execute(
            sa.text("SELECT count(*) FROM key_pairs WHERE shared_project_id = :p"), {"p": project}
        ).scalar_one()
        in_use = connection.execute(
            sa.text("SELECT in_use FROM key_pair_project_usages WHERE project_id = :p"),
            {"p": project},
        ).scalar_one()
    assert (shared, in_use) == (QUOTA, QUOTA)
    # The losers hold nothing of their own either.
    losers = [u for u, r in zip(users, replies, strict=True) if r.status == 403]
    assert deployment.rows(losers[0]) == (0, None)


def delete_shared_while_booting(deployment: Deployment, boots: int = 16) -> None:
    """Server creates naming a shared key while its owner deletes it: each
    create either has the key (its snapshot) or is a clean 400; the delete
    is one 204 and gives both quotas back."""
    project = f"team-{uuid.uuid4().hex[:10]}"
    owner, member = new_user(), new_user()
    created = _share(deployment, owner, project, "oncall")
    assert created.status == 201, created.text
    server = {"name": "vm", "imageRef": "img", "flavorRef": "1", "key_names": ["oncall"]}

    def boot() -> support.Reply:
        return deployment.call(
            "POST",
            "/v2.1/servers",
            {"server": server},
            user=member,
            project=project,
            version=SHARING,
        )

    def delete() -> support.Reply:
        return deployment.call(
            "DELETE", f"{KP}/oncall?force=true", user=owner, project=project, version=SHARING
        )

    tasks = [boot] * boots
    tasks.insert(boots // 2, delete)
    replies = all_at_once(tasks)
    deleted = replies.pop(boots // 2)
    assert deleted.status == 204, deleted.text
    for reply in replies:
        assert reply.status in (202, 400), reply.text
        if reply.status == 400:
            assert reply.fault() == (
                "badRequest",
                400,
                "Key pair 'oncall' not found: no key of that name is yours or shared "
                "with this project.",
            )
            continue
        server_id = reply.json["server"]["id"]
        shown = deployment.call(
            "GET", f"/v2.1/servers/{server_id}", user=member, project=project, version=SHARING
        )
        assert shown.json["server"]["key_names"] == ["oncall"], shown.text
    assert (
        deployment.call("GET", f"{KP}/oncall", user=member, project=project, version=SHARING).status
        == 404
    )
    assert deployment.rows(owner) == (0, 0)
