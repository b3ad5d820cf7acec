"""Statements on the driver's cursor: the rows SQLAlchemy would write, and
nothing kept when the work fails."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from keypairs_ext.db import api, direct
from tests.conftest import (
    POSTGRESQL_URL,
    Client,
    _need,
    create_database,
    drop_database,
    one_connection_engine,
)
from tests.functional import keypairs_helpers as helpers

MIDNIGHT = datetime.datetime(2026, 11, 27)  # no microseconds: the format must still carry them
PROBE = sa.Table("direct_probe", sa.MetaData(), sa.Column("x", sa.Integer, primary_key=True))


def test_sqlite_parameters_are_positional_and_dates_stored_as_sqlalchemy_stores_them() -> None:
    insert = direct.CompiledStatement(api._INSERT_ROW, sqlite.dialect())
    names = [c.name for c in api._CREATED_COLUMNS]
    row = {name: f"<{name}>" for name in names}
    row.update(created_at=MIDNIGHT, updated_at=None)
    parameters = insert.parameters(row)
    assert insert.sql.startswith("INSERT INTO key_pairs (user_id, name, ")
    assert parameters[:2] == ("<user_id>", "<name>")
    assert parameters[names.index("created_at")] == "2026-11-27 00:00:00.000000"


def test_sqlite_rows_read_back_as_sqlalchemy_reads_them() -> None:
    get = direct.CompiledStatement(api._GET, sqlite.dialect())
    stored = (7, "u1", "kp", "aa:bb", "ssh-ed25519 AAAA", "ssh", "2026-11-27 00:00:00.000000")
    (row,) = get.rows([stored + (None, None, None, None, None, None)])
    assert tuple(row[:6]) == stored[:6]
    assert row[6] == MIDNIGHT and row[7] is None
    listed = direct.CompiledStatement(api._LIST[(False, False)], sqlite.dialect())
    assert listed.rows([("kp", "ssh-ed25519 AAAA", "aa:bb", "ssh")]) == [
        ("kp", "ssh-ed25519 AAAA", "aa:bb", "ssh")
    ]


def test_literals_of_a_statement_keep_their_values() -> None:
    take = direct.CompiledStatement(api._TAKE_UPSERT["sqlite"], sqlite.dialect())
    # in_use = 1 on insert, + 1 on conflict, below the limit unless it is negative
    assert take.parameters({"b_user_id": "u1", "b_limit": 5}) == ("u1", 1, 1, 5, 0, 5)
    create = direct.CompiledStatement(api._CREATE_WITH_QUOTA, postgresql.dialect())
    parameters = create.parameters({"b_user_id": "u1", "b_limit": -1, "name": "kp"})
    assert parameters["b_user_id"] == "u1" and parameters["name"] == "kp"
    assert sorted(v for k, v in parameters.items() if k.startswith(("param_", "in_use"))) == [
        0,
        1,
        1,
    ]


def _one_connection_engine(url: str) -> sa.engine.Engine:
    engine = one_connection_engine(url)
    PROBE.create(engine)
    return engine


# Both PostgreSQL drivers the host supports: psycopg 3 and psycopg2.
DRIVERS = ["postgresql+psycopg", "postgresql+psycopg2"]


def _postgresql_engine(driver: str) -> Iterator[sa.engine.Engine]:
    _need(POSTGRESQL_URL, "PostgreSQL")
    url = create_database(POSTGRESQL_URL)
    driver_url = sa.engine.make_url(url).set(drivername=driver)
    engine = _one_connection_engine(driver_url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    drop_database(POSTGRESQL_URL, url)


@pytest.fixture(params=DRIVERS)
def postgresql_engine(request: pytest.FixtureRequest) -> Iterator[sa.engine.Engine]:
    yield from _postgresql_engine(request.param)


@pytest.fixture(params=["sqlite", *DRIVERS])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[sa.engine.Engine]:
    if request.param != "sqlite":
        yield from _postgresql_engine(request.param)
        return
    engine = _one_connection_engine(f"sqlite:///{tmp_path}/direct.sqlite")
    yield engine
    engine.dispose()


def _probe_rows(engine: sa.engine.Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(PROBE.c.x).order_by(PROBE.c.x)).scalars())


def test_a_transaction_commits_when_its_block_ends(engine: sa.engine.Engine) -> None:
    with direct.driver_cursor(engine, transaction=True) as cursor:
        cursor.execute("INSERT INTO direct_probe (x) VALUES (1)")
        cursor.execute("INSERT INTO direct_probe (x) VALUES (2)")
    assert _probe_rows(engine) == [1, 2]


def test_an_exception_in_the_block_rolls_the_work_back(engine: sa.engine.Engine) -> None:
    with pytest.raises(RuntimeError, match="half way"):
        with direct.driver_cursor(engine, transaction=True) as cursor:
            cursor.execute("INSERT INTO direct_probe (x) VALUES (1)")
            raise RuntimeError("half way")
    # The one pooled connection came back outside any transaction.
    with direct.driver_cursor(engine, transaction=True) as cursor:
        cursor.execute("INSERT INTO direct_probe (x) VALUES (2)")
    assert _probe_rows(engine) == [2]


def test_a_driver_error_raises_driver_error_with_nothing_kept(engine: sa.engine.Engine) -> None:
    with pytest.raises(direct.DriverError):
        with direct.driver_cursor(engine, transaction=True) as cursor:
            cursor.execute("INSERT INTO direct_probe (x) VALUES (1)")
            cursor.execute("INSERT INTO direct_probe (x) VALUES (1)")  # duplicate key
    assert _probe_rows(engine) == []
    with direct.driver_cursor(engine) as cursor:  # and the connection still serves
        cursor.execute("INSERT INTO direct_probe (x) VALUES (3)")
    assert _probe_rows(engine) == [3]


@pytest.mark.postgresql
def test_a_connection_the_server_dropped_is_discarded(
    postgresql_engine: sa.engine.Engine,
) -> None:
    engine = postgresql_engine
    with direct.driver_cursor(engine) as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (first_pid,) = cursor.fetchone()
    killer = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({first_pid})")
    killer.dispose()
    with pytest.raises(direct.DriverError):
        with direct.driver_cursor(engine) as cursor:
            cursor.execute("SELECT 1")
    with direct.driver_cursor(engine) as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (second_pid,) = cursor.fetchone()
    assert second_pid != first_pid


def test_a_create_stores_what_sqlalchemy_reads_back(make_host: Any) -> None:
    host = make_host()
    client = Client(host.api, token="user1:project1", version="2.92")
    key = helpers.ed25519_line()
    created = client.post("/v2.1/os-keypairs", {"keypair": {"name": "kp", "public_key": key}})
    assert created.status_int == 201, created.text
    with host.autocommit.connect() as connection:
        row = connection.execute(sa.select(api._KP).where(api._KP.c.name == "kp")).one()
        in_use = connection.execute(sa.select(api._USAGE.c.in_use)).scalar()
    assert (row.user_id, row.public_key, row.type, row.algorithm, row.bits) == (
        "user1",
        key,
        "ssh",
        "ed25519",
        256,
    )
    assert row.fingerprint == created.json["keypair"]["fingerprint"]
    assert isinstance(row.created_at, datetime.datetime)
    assert abs(api._now() - row.created_at) < datetime.timedelta(minutes=1)
    assert in_use == 1


def test_a_duplicate_create_is_a_conflict_and_takes_no_quota(make_host: Any) -> None:
    """The driver's refusal is answered through SQLAlchemy's error translation."""
    host = make_host()
    client = Client(host.api, token="user1:project1", version="2.92")
    body = {"keypair": {"name": "kp", "public_key": helpers.ed25519_line()}}
    assert client.post("/v2.1/os-keypairs", body).status_int == 201
    duplicate = client.post("/v2.1/os-keypairs", body)
    assert duplicate.status_int == 409
    assert duplicate.json["conflictingRequest"]["message"] == "Key pair 'kp' already exists."
    with host.autocommit.connect() as connection:
        in_use = connection.execute(sa.select(api._USAGE.c.in_use)).scalar()
        rows = connection.execute(sa.select(sa.func.count()).select_from(api._KP)).scalar()
    assert in_use == rows == 1


def test_a_delete_releases_the_quota_and_a_missing_name_releases_nothing(make_host: Any) -> None:
    host = make_host()
    client = Client(host.api, token="user1:project1", version="2.92")
    for name in ("kp1", "kp2"):
        body = {"keypair": {"name": name, "public_key": helpers.ed25519_line()}}
        assert client.post("/v2.1/os-keypairs", body).status_int == 201
    assert client.delete("/v2.1/os-keypairs/kp1").status_int == 204
    missing = client.delete("/v2.1/os-keypairs/kp1")
    assert missing.status_int == 404
    assert missing.json["itemNotFound"]["message"] == "Keypair kp1 not found for user user1"
    with host.autocommit.connect() as connection:
        in_use = connection.execute(sa.select(api._USAGE.c.in_use)).scalar()
        names = connection.execute(sa.select(api._KP.c.name)).scalars().all()
    assert (in_use, names) == (1, ["kp2"])
