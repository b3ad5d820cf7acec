"""The host's autocommit engine: one statement, no ping, a retry after a drop."""

from __future__ import annotations

import datetime
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from keypairs_ext.db import connections
from keypairs_ext.host import app, database
from keypairs_ext.host.contract import STATEMENT_HOOKS
from tests.conftest import (
    POSTGRESQL_URL,
    Client,
    _need,
    build_host,
    create_database,
    drop_database,
    one_connection_engine,
)
from tests.functional import keypairs_helpers as helpers

TERMINATE_OTHERS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
def private_postgresql(tmp_path: Any) -> Iterator[app.Host]:
    """A host on a PostgreSQL database of its own (its connections get killed)."""
    _need(POSTGRESQL_URL, "PostgreSQL")
    url = create_database(POSTGRESQL_URL)
    host = build_host(url, str(tmp_path))
    yield host
    host.close()
    drop_database(POSTGRESQL_URL, url)


@pytest.mark.postgresql
def test_connections_the_server_dropped_are_replaced_without_an_error(
    private_postgresql: app.Host,
) -> None:
    host = private_postgresql
    client = Client(host.api, token="user1:project1", version="2.92")
    key = helpers.ed25519_line()
    created = client.post("/v2.1/os-keypairs", {"keypair": {"name": "kp", "public_key": key}})
    assert created.status_int == 201, created.text
    # Both pools now hold connections; the server then drops every one of them,
    # as a restart or an idle-connection reaper would.
    assert client.get("/v2.1/os-keypairs/kp").status_int == 200
    killer = sa.create_engine(host.autocommit.url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        assert connection.exec_driver_sql(TERMINATE_OTHERS).scalar() >= 1
    killer.dispose()

    shown = client.get("/v2.1/os-keypairs/kp")
    assert shown.status_int == 200, shown.text
    assert shown.json["keypair"]["public_key"] == key
    listed = client.get("/v2.1/os-keypairs")
    assert [k["keypair"]["name"] for k in listed.json["keypairs"]] == ["kp"]
    second = client.post(
        "/v2.1/os-keypairs", {"keypair": {"name": "kp2", "public_key": helpers.ed25519_line()}}
    )
    assert second.status_int == 201, second.text
    assert client.delete("/v2.1/os-keypairs/kp").status_int == 204


@pytest.mark.postgresql
def test_one_statement_create_is_atomic(private_postgresql: app.Host) -> None:
    """A duplicate name takes no quota: the usage count moves with the rows."""
    host = private_postgresql
    client = Client(host.api, token="user1:project1", version="2.92")
    body = {"keypair": {"name": "kp", "public_key": helpers.ed25519_line()}}
    assert client.post("/v2.1/os-keypairs", body).status_int == 201
    duplicate = client.post("/v2.1/os-keypairs", body)
    assert duplicate.status_int == 409
    with host.autocommit.connect() as connection:
        in_use = connection.exec_driver_sql(
            "SELECT in_use FROM key_pair_usages WHERE user_id = 'user1'"
        ).scalar()
        rows = connection.exec_driver_sql("SELECT count(*) FROM key_pairs").scalar()
    assert in_use == rows == 1


def test_no_autocommit_engine_for_an_in_memory_database() -> None:
    conf = app.make_conf([])
    conf.set_override("connection", "sqlite://", group="database")
    assert database.create_autocommit_engine(conf) is None


def test_a_forked_process_opens_its_own_connections(tmp_path: Any) -> None:
    conf = app.make_conf([])
    conf.set_override("connection", f"sqlite:///{tmp_path}/fork.sqlite", group="database")
    engine = database.create_autocommit_engine(conf)
    assert engine is not None
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        parents = connection.connection.dbapi_connection
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if it got a connection of its own
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                own = connection.connection.dbapi_connection is not parents
            os._exit(0 if own else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with engine.connect() as connection:  # the parent's connection still works
        assert connection.connection.dbapi_connection is parents
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    engine.dispose()


_PROBE = sa.Table(
    "driver_probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20)),
    sa.Column("at", sa.DateTime, nullable=True),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def probe_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database for the driver-level tests: a SQLite file, then the test PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/probe.sqlite"
    return str(request.getfixturevalue("postgresql_url"))


def test_driver_reads_give_the_rows_sqlalchemy_gives(probe_url: str) -> None:
    engine = one_connection_engine(probe_url)
    _PROBE.drop(engine, checkfirst=True)
    _PROBE.create(engine)
    at = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901)
    with engine.connect() as connection:
        connection.execute(
            _PROBE.insert(),
            [{"name": "a", "at": at}, {"name": "b", "at": None}, {"name": "c", "at": at}],
        )
        select = (
            sa.select(_PROBE)
            .where(_PROBE.c.name < sa.bindparam("below"))
            .order_by(_PROBE.c.id)
            .limit(sa.bindparam("limit"))
        )
        params = {"below": "c", "limit": 5}
        rows = connections.DriverReads().rows(connection, select, params)
        assert [tuple(row) for row in rows] == [(1, "a", at), (2, "b", None)]
        assert rows == [tuple(row) for row in connection.execute(select, params).all()]
    _PROBE.drop(engine)
    engine.dispose()


def test_driver_reads_keep_one_cursor_which_outlives_a_failed_read(probe_url: str) -> None:
    from oslo_db import exception as db_exc

    engine = one_connection_engine(probe_url)
    reads = connections.DriverReads()
    one = sa.select(sa.literal_column("1"))
    missing = sa.select(sa.table("no_such_table", sa.column("x")))
    with engine.connect() as connection:
        assert reads.rows(connection, one, {}) == [(1,)]
        kept = dict(connection.info)
        with pytest.raises(db_exc.DBError):
            reads.rows(connection, missing, {})
    with engine.connect() as connection:
        assert reads.rows(connection, one, {}) == [(1,)]
        assert dict(connection.info) == kept
    engine.dispose()


@pytest.mark.postgresql
def test_a_driver_read_on_a_dropped_connection_fails_as_sqlalchemy_names_it(
    private_postgresql: app.Host,
) -> None:
    from oslo_db import exception as db_exc

    engine = one_connection_engine(private_postgresql.autocommit.url)
    reads = connections.DriverReads()
    one = sa.select(sa.literal_column("1"))
    with engine.connect() as connection:
        assert reads.rows(connection, one, {}) == [(1,)]
    killer = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        assert connection.exec_driver_sql(TERMINATE_OTHERS).scalar() >= 1
    killer.dispose()
    with engine.connect() as connection:
        with pytest.raises(db_exc.DBConnectionError):
            reads.rows(connection, one, {})
    with engine.connect() as connection:  # the lost connection was replaced
        assert reads.rows(connection, one, {}) == [(1,)]
    engine.dispose()


def test_driver_reads_take_sqlalchemys_path_while_it_logs_statements(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = one_connection_engine(f"sqlite:///{tmp_path}/logged.sqlite")
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        with engine.connect() as connection:
            rows = connections.DriverReads().rows(
                connection, sa.select(sa.literal_column("42")), {}
            )
    assert rows == [(42,)]
    assert any(record.getMessage().startswith("SELECT 42") for record in caplog.records)
    engine.dispose()


def test_a_failed_transaction_is_rolled_back_and_its_connection_reusable(probe_url: str) -> None:
    engine = one_connection_engine(probe_url)
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS tx_probe")
        connection.exec_driver_sql("CREATE TABLE tx_probe (x INTEGER PRIMARY KEY)")
    with pytest.raises(RuntimeError, match="half way"):
        with connections.transaction(engine) as connection:
            connection.exec_driver_sql("INSERT INTO tx_probe VALUES (1)")
            raise RuntimeError("half way")
    # The one pooled connection is back, outside any transaction.
    with connections.transaction(engine) as connection:
        connection.exec_driver_sql("INSERT INTO tx_probe VALUES (2)")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT x FROM tx_probe").scalars().all()
        connection.exec_driver_sql("DROP TABLE tx_probe")
    assert rows == [2]
    engine.dispose()


def test_a_database_that_is_down_is_an_error_once_not_a_log_of_tracebacks(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from oslo_context import context as oslo_context
    from oslo_db import exception as db_exc

    from keypairs_ext.db.api import KeypairStore

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = app.make_conf([])
    conf.set_override(
        "connection", f"postgresql+psycopg2://postgres@127.0.0.1:{port}/none", group="database"
    )
    engine = database.create_autocommit_engine(conf)
    store = KeypairStore(database.create_facade(conf), engine)
    with pytest.raises(db_exc.DBConnectionError):
        store.get(oslo_context.RequestContext(), "user", "kp")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    engine.dispose()


def _settings(connection: Any, dialect: str) -> tuple:
    if dialect == "sqlite":
        return tuple(
            connection.exec_driver_sql(f"PRAGMA {pragma}").scalar()
            for pragma in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        )
    return tuple(
        connection.exec_driver_sql(
            "SELECT @@SESSION.sql_mode, @@SESSION.wsrep_sync_wait, @@SESSION.autocommit"
        ).one()
    )


def _every_engine(host: app.Host) -> dict[str, Any]:
    return {
        "writer": host.database.writer.get_engine(),
        "reader": host.database.reader.get_engine(),
        "autocommit": host.autocommit,
    }


def test_every_connection_gets_the_mysql_session_options(tmp_path: Any, mysql_url: str) -> None:
    """[database] mysql_sql_mode and mysql_wsrep_sync_wait, read back from a
    connection of each engine the host opens (the store uses the autocommit one)."""
    host = build_host(
        mysql_url,
        str(tmp_path),
        database__mysql_sql_mode="TRADITIONAL,ANSI_QUOTES",
        database__mysql_wsrep_sync_wait=3,
    )
    try:
        for name, engine in _every_engine(host).items():
            with engine.connect() as connection:
                sql_mode, sync_wait, _ = _settings(connection, "mysql")
            assert "ANSI_QUOTES" in sql_mode.split(","), name
            assert "STRICT_ALL_TABLES" in sql_mode.split(","), name  # part of TRADITIONAL
            assert sync_wait == 3, name
        with host.autocommit.connect() as connection:  # and it still autocommits
            assert _settings(connection, "mysql")[2] == 1
    finally:
        host.close()


def test_the_mysql_defaults_apply_to_the_autocommit_engine_too(
    tmp_path: Any, mysql_url: str
) -> None:
    host = build_host(mysql_url, str(tmp_path))
    try:
        found = {}
        for name, engine in _every_engine(host).items():
            with engine.connect() as connection:
                found[name] = _settings(connection, "mysql")[:2]
        # oslo.db's default sql_mode, TRADITIONAL, on each; wsrep_sync_wait untouched.
        assert len(set(found.values())) == 1, found
        assert "STRICT_ALL_TABLES" in found["autocommit"][0].split(","), found
    finally:
        host.close()


def test_sqlite_file_connections_are_pooled_with_the_same_pragmas(tmp_path: Any) -> None:
    host = build_host(
        f"sqlite:///{tmp_path}/pooled.sqlite", str(tmp_path), database__max_pool_size=3
    )
    try:
        writer = host.database.writer.get_engine()
        assert isinstance(writer.pool, sa.pool.QueuePool)
        assert writer.pool.size() == 3
        found = {}
        for name, engine in _every_engine(host).items():
            with engine.connect() as connection:
                found[name] = _settings(connection, "sqlite")
                opened = connection.connection.dbapi_connection
            with engine.connect() as connection:  # the same connection, kept open
                assert connection.connection.dbapi_connection is opened, name
        assert set(found.values()) == {("wal", 30000, 1, 2)}, found
        # Nothing of the pool's settings reached the driver as a connect argument.
        assert "plugin" not in str(writer.url)
    finally:
        host.close()


def test_connection_trace_and_debug_apply_to_every_engine(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/traced.sqlite"
    # Migrated first: oslo.db's trace comment breaks SQLite's ALTER TABLE.
    build_host(url, str(tmp_path)).close()
    host = build_host(
        url,
        str(tmp_path),
        database__connection_trace=True,
        database__connection_debug=50,
    )
    try:
        sent: dict[str, list[str]] = {}
        for name, engine in _every_engine(host).items():
            statements = sent.setdefault(name, [])
            sa.event.listen(
                engine,
                "after_cursor_execute",
                lambda _c, _cur, statement, *_, into=statements: into.append(statement),
            )
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1").all()
        # The store's writes still run with the comments (BEGIN IMMEDIATE too).
        client = Client(host.api, token="user1:project1", version="2.92")
        body = {"keypair": {"name": "kp", "public_key": helpers.ed25519_line()}}
        assert client.post("/v2.1/os-keypairs", body).status_int == 201
        assert client.delete("/v2.1/os-keypairs/kp").status_int == 204
        for name, statements in sent.items():
            assert statements and all("  -- File: " in s for s in statements), (name, statements)
        assert logging.getLogger("sqlalchemy.engine").level == logging.INFO
    finally:
        host.close()
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def test_connection_trace_alone_comments_the_store_reads_too(tmp_path: Any) -> None:
    """Reads run on the driver's cursor unless the host hooks its statements:
    with [database] connection_trace (and no statement log) a show's SELECT
    still carries the trace comment, and every engine says it is hooked."""
    url = f"sqlite:///{tmp_path}/traced.sqlite"
    build_host(url, str(tmp_path)).close()  # migrated without the comments
    host = build_host(url, str(tmp_path), database__connection_trace=True)
    try:
        for name, engine in _every_engine(host).items():
            assert engine.get_execution_options().get(STATEMENT_HOOKS) is True, name
        selects: list[str] = []
        sa.event.listen(
            host.autocommit,
            "after_cursor_execute",
            lambda _c, _cur, statement, *_: (
                selects.append(statement)
                if statement.lstrip().upper().startswith("SELECT")
                else None
            ),
        )
        client = Client(host.api, token="user1:project1", version="2.92")
        body = {"keypair": {"name": "kp", "public_key": helpers.ed25519_line()}}
        assert client.post("/v2.1/os-keypairs", body).status_int == 201
        selects.clear()
        assert client.get("/v2.1/os-keypairs/kp").status_int == 200
        assert selects and all("  -- File: " in s for s in selects), selects
    finally:
        host.close()


@pytest.mark.postgresql
def test_a_host_reaches_a_local_postgresql_through_its_unix_socket(
    postgresql_url: str, tmp_path: Any
) -> None:
    """The tuning guide's URL for a PostgreSQL on the same machine: the
    socket's directory as ``host`` in the query, no TCP."""
    url = sa.engine.make_url(postgresql_url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        setting = connection.exec_driver_sql("SHOW unix_socket_directories").scalar()
    engine.dispose()
    directory = str(setting).split(",")[0].strip()
    socket_url = url.set(host=None, port=None).update_query_dict({"host": directory})
    host = build_host(socket_url.render_as_string(hide_password=False), str(tmp_path))
    try:
        client = Client(host.api, version="2.2")
        created = client.post("/v2.1/os-keypairs", {"keypair": {"name": "over-socket"}})
        assert created.status_int == 201, created.text
        shown = client.get("/v2.1/os-keypairs/over-socket")
        assert shown.status_int == 200, shown.text
        assert shown.json["keypair"]["public_key"] == created.json["keypair"]["public_key"]
        with host.autocommit.connect() as connection:
            # NULL on a Unix-domain socket, the server's address on TCP.
            assert connection.exec_driver_sql("SELECT inet_server_addr()").scalar() is None
    finally:
        host.close()
