"""Bulk loading of keypairs straight into the database, and query plans.

Rows go in with COPY on PostgreSQL and executemany elsewhere; the
``key_pair_usages`` row of each user is raised by the number of keypairs
loaded for it, so quota accounting stays consistent with the table.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import sqlalchemy as sa

COLUMNS = ("user_id", "name", "fingerprint", "public_key", "type", "created_at")
BATCH = 50_000


def fingerprint(text: str) -> str:
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def rows_for(
    users: Iterable[str], per_user: int, public_key: str, prefix: str = "kp"
) -> Iterator[tuple]:
    """``per_user`` keypairs named ``prefix-00000``... for each user."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    for user in users:
        for i in range(per_user):
            name = f"{prefix}-{i:05d}"
            yield (user, name, fingerprint(user + name), public_key, "ssh", now)


def _batches(rows: Iterable[tuple]) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _copy_escape(value: Any) -> str:
    text = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def insert(engine: sa.engine.Engine, rows: Iterable[tuple]) -> int:
    """Insert keypair rows (in COLUMNS order) and account them; returns the count."""
    per_user: Counter[str] = Counter()
    total = 0
    for batch in _batches(rows):
        for row in batch:
            per_user[row[0]] += 1
        total += len(batch)
        if engine.dialect.name == "postgresql":
            buffer = io.StringIO()
            for row in batch:
                buffer.write("\t".join(_copy_escape(v) for v in row))
                buffer.write("\n")
            buffer.seek(0)
            copy = f"COPY key_pairs ({', '.join(COLUMNS)}) FROM STDIN"
            raw = engine.raw_connection()
            try:
                with cast(Any, raw.cursor()) as cursor:  # DB-API 2 leaves `with` to drivers
                    if engine.dialect.driver == "psycopg2":
                        cursor.copy_expert(copy, buffer)
                    else:  # psycopg 3
                        with cursor.copy(copy) as stream:
                            stream.write(buffer.getvalue())
                raw.commit()
            finally:
                raw.close()
        else:
            statement = sa.text(
                f"INSERT INTO key_pairs ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in COLUMNS)})"
            )
            with engine.begin() as connection:
                connection.execute(
                    statement, [dict(zip(COLUMNS, row, strict=True)) for row in batch]
                )
    usage = sa.text(
        "INSERT INTO key_pair_usages (user_id, in_use) VALUES (:user_id, :n) "
        "ON CONFLICT (user_id) DO UPDATE SET in_use = key_pair_usages.in_use + excluded.in_use"
    )
    items = [{"user_id": u, "n": n} for u, n in per_user.items()]
    with engine.begin() as connection:
        for start in range(0, len(items), BATCH):
            connection.execute(usage, items[start : start + BATCH])
    return total


def analyze(engine: sa.engine.Engine) -> None:
    """Refresh planner statistics, as autovacuum would after a bulk load."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE key_pairs")
            connection.exec_driver_sql("ANALYZE key_pair_usages")
            connection.exec_driver_sql("ANALYZE instances")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


@contextlib.contextmanager
def capturing(url: str, user_id: str) -> Iterator[tuple[Any, Any, Callable[[str], None], list]]:
    """A store on the engines the API builds from its configuration (so the
    statements are those of the request path), a context of ``user_id``, a
    function naming the operation under way, and the list that collects
    (operation, statement, parameters) of every statement run meanwhile."""
    from keypairs_ext.db.api import KeypairStore
    from keypairs_ext.host import app, database
    from keypairs_ext.host.context import RequestContext

    conf = app.make_conf([])
    conf.set_override("connection", url, group="database")
    facade = database.create_facade(conf)
    autocommit = database.create_autocommit_engine(conf)
    store = KeypairStore(facade, autocommit)
    engines = [facade.writer.get_engine()] + ([autocommit] if autocommit is not None else [])
    captured: list[tuple[str, str, Any]] = []
    current = {"op": ""}

    def before(_conn, _cursor, statement, parameters, _context, executemany):
        if not executemany and statement.lstrip().upper().startswith(
            ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
        ):
            captured.append((current["op"], statement, parameters))

    def name(operation: str) -> None:
        current["op"] = operation

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield store, RequestContext(user_id=user_id, project_id="bench"), name, captured
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", before)
            engine.dispose()


def hot_path_statements(url: str, user_id: str, names: list[str]) -> list[tuple[str, str, Any]]:
    """Run the extension's own store operations once and capture their SQL.

    Returns (operation, statement, parameters) for every statement the
    show, list (with and without marker), create and delete paths issued.
    """
    with capturing(url, user_id) as (store, context, name, captured):
        name("create (quota + insert)")
        store.create(
            context,
            {
                "user_id": user_id,
                "name": "explain-probe",
                "fingerprint": fingerprint("probe"),
                "public_key": "ssh-ed25519 AAAA probe",
                "type": "ssh",
            },
            1_000_000,
        )
        name("show")
        store.get(context, user_id, names[0])
        name("list (limit)")
        store.list(context, user_id, 10, None)
        name("list (limit, marker)")
        store.list(context, user_id, 10, names[len(names) // 2])
        name("delete")
        store.delete(context, user_id, "explain-probe")
    return captured


def explain(url: str, captured: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """The plan of each captured statement, and whether it scans a table."""
    engine = sa.create_engine(url)
    plans = []
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None  # a checked-out connection
            for op, statement, parameters in captured:
                cursor = raw.cursor()
                if engine.dialect.name == "postgresql":
                    cursor.execute("EXPLAIN " + statement, parameters)
                    lines = [row[0] for row in cursor.fetchall()]
                    full_scan = any("Seq Scan" in line for line in lines)
                else:
                    cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                    lines = [row[-1] for row in cursor.fetchall()]
                    # SEARCH uses an index; SCAN reads the whole table (or index).
                    full_scan = any(line.startswith("SCAN") for line in lines)
                cursor.close()
                plans.append(
                    {
                        "operation": op,
                        "statement": " ".join(statement.split()),
                        "plan": lines,
                        "full_scan": full_scan,
                    }
                )
            raw.rollback()
    finally:
        engine.dispose()
    return plans
