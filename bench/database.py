"""The benchmark's databases: a fresh SQLite file or PostgreSQL database per
run, dropped at the end, and the fixtures its operations read and delete."""

from __future__ import annotations

import datetime
import os
import uuid

import sqlalchemy as sa

from bench import load

POSTGRESQL_SERVER = os.environ.get(
    "KEYPAIRS_BENCH_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: users whose keypairs the list operations read, and how many each has
LIST_FIXTURES = (("bench-list10", 10), ("bench-list100", 100), ("bench-list1000", 1000))


class Database:
    def __init__(self, backend: str, workdir: str, fsync: bool = True) -> None:
        self.backend = backend
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir}/keypairs-bench.sqlite"
            self.name = None
        else:
            server = sa.engine.make_url(POSTGRESQL_SERVER)
            self.name = f"keypairs_bench_{uuid.uuid4().hex[:10]}"
            engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {self.name}")
                if not fsync:
                    # Only this throw-away database: commits stop waiting for the WAL flush.
                    connection.exec_driver_sql(
                        f"ALTER DATABASE {self.name} SET synchronous_commit = off"
                    )
            engine.dispose()
            self.url = server.set(database=self.name).render_as_string(hide_password=False)
        self.engine = sa.create_engine(self.url)

    def drop(self) -> None:
        self.engine.dispose()
        if self.name:
            engine = sa.create_engine(POSTGRESQL_SERVER, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            engine.dispose()

    def server_version(self) -> str:
        with self.engine.connect() as connection:
            if self.backend == "sqlite":
                version = connection.exec_driver_sql("select sqlite_version()").scalar()
                return f"SQLite {version}"
            return str(connection.exec_driver_sql("show server_version").scalar()).split()[0]


def load_fixtures(
    engine: sa.engine.Engine, key_text: str, delete_pools: dict[str, list[str]]
) -> None:
    """The rows the operations read and delete, straight into the migrated database."""
    for user, count in LIST_FIXTURES:
        load.insert(engine, load.rows_for([user], count, key_text))
    load.insert(engine, load.rows_for(["bench-show"], 1, key_text, "show"))
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    load.insert(
        engine,
        (
            ("bench-delete", name, load.fingerprint(name), key_text, "ssh", now)
            for names in delete_pools.values()
            for name in names
        ),
    )
    load.insert(engine, load.rows_for(["bench-server"], 1, key_text, "srv"))
