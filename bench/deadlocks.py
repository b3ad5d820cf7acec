"""Racing creates on MariaDB/MySQL: how the usage row's lock decides deadlocks.

    python -m bench.deadlocks [--server mysql+pymysql://root@127.0.0.1:3306/mysql] [--rounds 5]

On a throw-away database, runs rounds of two races through the keypair
store, with threads released together: 30 creates of one name for one
user, and 40 creates of distinct names against a quota of 10.  Once with
the store's statement for the usage row (``INSERT ... ON DUPLICATE KEY
UPDATE``, an exclusive lock at once) and once with the ``INSERT IGNORE``
it replaced (a shared lock first), each with and without the store's retry
policy.  Prints the answers (201, 409, 403, and 503 for a deadlock that
reached the caller) and how many deadlocks the database raised.  A
diagnostic: nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import collections
import threading
import uuid
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc

SERVER = "mysql+pymysql://root@127.0.0.1:3306/mysql?charset=utf8mb4"
RACES = ((30, True), (40, False))  # (racers, one name)
QUOTA = 10


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    from keypairs_ext import exception
    from keypairs_ext.db import api, connections
    from keypairs_ext.host import app
    from keypairs_ext.host.db import migrate

    server = sa.engine.make_url(args.server)
    name = f"keypairs_deadlocks_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    conf = app.make_conf([])
    conf.set_override("connection", server.set(database=name).render_as_string(False), "database")
    conf.set_override("max_pool_size", 45, group="database")
    host = None
    try:
        host = app.build(conf)
        migrate.sync(host.database.writer.get_engine(), [type(e) for e in host.extensions])
        store = api.KeypairStore(host.database, host.autocommit)
        usage: Any = api._USAGE
        statements: dict[str, Any] = {
            "INSERT ... ON DUPLICATE KEY UPDATE": api._LOCK_USAGE,
            "INSERT IGNORE": sa.insert(usage)
            .values(user_id=sa.bindparam("b_user_id"), in_use=0)
            .prefix_with("IGNORE"),
        }
        deadlocks = 0

        def attempt(context: Any, row: dict[str, Any], limit: int) -> int:
            nonlocal deadlocks
            try:
                with store._writing(context) as connection:
                    return api._insert_within_quota(connection, row, limit)
            except db_exc.DBDeadlock:
                deadlocks += 1
                raise

        def race(racers: int, one_name: bool) -> collections.Counter[int]:
            user, answers = uuid.uuid4().hex[:12], collections.Counter[int]()
            barrier = threading.Barrier(racers)

            def create(i: int) -> None:
                values = {"user_id": user, "name": "x" if one_name else f"k{i}"}
                values.update(fingerprint="f", public_key="p", type="ssh")
                barrier.wait()
                try:
                    store.create(None, values, QUOTA)
                    answers[201] += 1
                except exception.KeypairExists:
                    answers[409] += 1
                except exception.KeypairLimitExceeded:
                    answers[403] += 1
                except db_exc.DBDeadlock:
                    answers[503] += 1

            threads = [threading.Thread(target=create, args=(i,)) for i in range(racers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return answers

        for label, statement in statements.items():
            api._LOCK_USAGE = statement
            for retry in (False, True):
                store._insert = connections.retried(attempt) if retry else attempt  # type: ignore[method-assign]
                deadlocks = 0
                answers = collections.Counter[int]()
                for _ in range(args.rounds):
                    for racers, one_name in RACES:
                        answers += race(racers, one_name)
                print(
                    f"{label:<36} retried: {'yes' if retry else 'no ':<4} "
                    f"answers {dict(sorted(answers.items()))}  deadlocks {deadlocks}",
                    flush=True,
                )
    finally:
        if host is not None:
            host.close()
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


if __name__ == "__main__":
    main()
