"""The keypair lifecycle (keypairs 1.1) on the million-row table.

    python -m bench.lifecycle --backend sqlite|postgresql [--users 1000] [--per-user 1000]

Loads ``users`` x ``per_user`` keypairs (a million by default) as the scale
run does, gives one user in the middle labels, expiries and servers, and 1%
of all keypairs an expiry in the past (what the operators' sweep reads).
Then, in process through the host's WSGI stack (as :mod:`bench.inprocess`),
times the lifecycle operations of that user and a bare WebOb app (the
``hello`` floor) in the same run, and prints each median and its ratio to
the floor; and prints the query plan of every statement those operations and
``keypairs-manage keypairs expired`` issue, flagging any that reads a whole
table.  Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import webob

from bench import hello, inprocess, load
from bench.database import Database
from bench.operations import KP, public_keys

HEADER = "compute 2.92, keypairs 1.1"
WARMUP = 100
#: servers of other users' keys, so that the usage table has a realistic size
SERVERS = 100_000
TIMED = 1000


def _environ(user: str, method: str, path: str, body: Any = None) -> dict:
    built = webob.Request.blank(path, method=method)
    built.headers["X-Auth-Token"] = f"{user}:bench"
    built.headers["OpenStack-API-Version"] = HEADER
    if body is not None:
        built.body = json.dumps(body).encode()
        built.content_type = "application/json"
    return built.environ


def _median_us(app: Any, operation: Callable[[int], dict], timed: int) -> float:
    for i in range(WARMUP):
        inprocess.call(app, operation(i))
    samples = []
    for i in range(WARMUP, WARMUP + timed):
        environ = operation(i)
        start = time.perf_counter()
        inprocess.call(app, environ)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def dress(engine: sa.engine.Engine, user: str) -> None:
    """Lifecycle data: ``user``'s keys get UUIDs, labels (a tenth ``team=db``),
    expiries (a tenth past) and a server each for a tenth; 1% of all keys
    expired a day ago; other keys have ``SERVERS`` servers."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    with engine.begin() as connection:
        rows = connection.execute(
            sa.text("SELECT id, name FROM key_pairs WHERE user_id = :u ORDER BY name"), {"u": user}
        ).all()
        for n, (row_id, _name) in enumerate(rows):
            team = "db" if n % 10 == 0 else f"t{n % 7}"
            expires = now - datetime.timedelta(days=1) if n % 10 == 5 else None
            connection.execute(
                sa.text(
                    "UPDATE key_pairs SET uuid = :uuid, labels = :labels, expires_at = :e "
                    "WHERE id = :id"
                ),
                {
                    "uuid": f"00000000-0000-4000-8000-{row_id:012d}",
                    "labels": f",env=prod,team={team},",
                    "e": expires,
                    "id": row_id,
                },
            )
            if n % 10 == 3:
                connection.execute(
                    sa.text(
                        "INSERT INTO key_pair_servers (keypair_uuid, server_id, server_name, "
                        "created_at) VALUES (:k, :s, 'vm', :c)"
                    ),
                    {"k": f"00000000-0000-4000-8000-{row_id:012d}", "s": f"srv-{row_id}", "c": now},
                )
        connection.execute(
            sa.text("UPDATE key_pairs SET expires_at = :e WHERE id % 100 = 7 AND user_id <> :u"),
            {"e": now - datetime.timedelta(days=1), "u": user},
        )
        # Other users' servers: the usage table at a tenth of the keypairs.
        connection.execute(
            sa.text(
                "INSERT INTO key_pair_servers (keypair_uuid, server_id, server_name, created_at) "
                "VALUES (:k, :s, 'vm', :c)"
            ),
            [
                {"k": f"ffffffff-0000-4000-8000-{n:012d}", "s": f"other-{n}", "c": now}
                for n in range(SERVERS)
            ],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE key_pair_servers")


def operations(user: str) -> dict[str, Callable[[int], dict]]:
    return {
        "update (PUT description)": lambda i: _environ(
            user, "PUT", f"{KP}/kp-00050", {"keypair": {"description": f"d{i % 2}"}}
        ),
        "show (1.1)": lambda i: _environ(user, "GET", f"{KP}/kp-00050"),
        "list limit=10 (1.1)": lambda i: _environ(user, "GET", f"{KP}?limit=10"),
        "list expired=true limit=10": lambda i: _environ(
            user, "GET", f"{KP}?expired=true&limit=10"
        ),
        "list in_use=true limit=10": lambda i: _environ(user, "GET", f"{KP}?in_use=true&limit=10"),
        "list labels=team=db limit=10": lambda i: _environ(
            user, "GET", f"{KP}?labels=team%3Ddb&limit=10"
        ),
        "servers of a key": lambda i: _environ(user, "GET", f"{KP}/kp-00003/servers"),
    }


def statements(url: str, user: str) -> list[tuple[str, str, Any]]:
    """The SQL the lifecycle store operations issue, captured as they run."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    uuids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(1, 11)]
    with load.capturing(url, user) as (store, context, name, captured):
        name("update")
        store.update(context, user, "kp-00050", {"description": "plan"})
        for operation, lifecycle in (
            ("list expired", {"expired": True}),
            ("list not expired", {"expired": False}),
            ("list in_use", {"in_use": True}),
            ("list labels", {"labels": {"team": "db", "env": "prod"}}),
        ):
            name(operation)
            store.list_filtered(context, user, {}, 10, "kp-00100", lifecycle, now)
        name("server counts of a page")
        store.server_counts(context, uuids)
        name("servers of a key")
        store.servers_of(context, uuids[0])
        name("sweep batch")
        store.expired_batch(context, now, (now - datetime.timedelta(days=2), 0), 500)
        name("server event")
        store.record_server(context, "plan-server", "vm", now, uuids[:1])
        store.forget_server(context, "plan-server")
    return captured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--per-user", type=int, default=1000)
    parser.add_argument("--timed", type=int, default=TIMED)
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="keypairs-lifecycle-")
    database = Database(args.backend, workdir)
    try:
        api = inprocess.build_api(database.url, workdir, fsync=True)
        users = [f"scale-user-{i:05d}" for i in range(args.users)]
        middle = users[len(users) // 2]
        start = time.time()
        load.insert(database.engine, load.rows_for(users, args.per_user, public_keys()["ed25519"]))
        dress(database.engine, middle)
        load.analyze(database.engine)
        with database.engine.connect() as connection:
            count = connection.exec_driver_sql("SELECT count(*) FROM key_pairs").scalar()
        print(
            f"{database.server_version()}: {count} keypairs loaded in {time.time() - start:.0f}s",
            flush=True,
        )
        report: dict[str, Any] = {"backend": args.backend, "rows": count, "operations": {}}
        floor = _median_us(hello.application, lambda i: _environ(middle, "GET", "/"), args.timed)
        print(f"  {'hello (bare WebOb)':<32} median {floor:7.0f} µs", flush=True)
        for name, operation in operations(middle).items():
            median = _median_us(api, operation, args.timed)
            report["operations"][name] = {"median_us": median, "ratio": median / floor}
            print(f"  {name:<32} median {median:7.0f} µs  x{median / floor:5.1f}", flush=True)
        report["hello_us"] = floor
        plans = load.explain(database.url, statements(database.url, middle))
        for plan in plans:
            flag = "FULL SCAN " if plan["full_scan"] else ""
            print(f"  {flag}EXPLAIN [{plan['operation']}] {plan['statement'][:150]}")
            for line in plan["plan"]:
                print(f"      {line}")
        report["explain"] = plans
        report["full_scans"] = [p["statement"] for p in plans if p["full_scan"]]
        print(f"full scans: {len(report['full_scans'])}")
        if args.json:
            with open(args.json, "w") as out:
                json.dump(report, out, indent=2, default=str)
    finally:
        database.drop()


if __name__ == "__main__":
    main()
