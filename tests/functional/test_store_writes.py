"""The store's one write path: what a create and a delete leave in the
database, and nothing kept when the work fails."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from keypairs_ext.db import api
from keypairs_ext.host import app
from tests import conftest
from tests.conftest import Client
from tests.functional import keypairs_helpers as helpers


@pytest.fixture(params=["sqlite", "postgresql", "psycopg2", "mysql"])
def make_host(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Callable[..., app.Host]]:
    """Hosts on each of the three backends (MariaDB too: its writes take
    statements of their own), and on PostgreSQL through both drivers the
    host supports (psycopg 3 and psycopg2)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/keypairs.sqlite"
    else:
        url = request.getfixturevalue("mysql_url" if request.param == "mysql" else "postgresql_url")
        conftest._prepare_shared(url)
        if request.param == "psycopg2":
            psycopg2 = sa.engine.make_url(url).set(drivername="postgresql+psycopg2")
            url = psycopg2.render_as_string(hide_password=False)
    hosts: list[app.Host] = []

    def build(**overrides: Any) -> app.Host:
        hosts.append(conftest.build_host(url, str(tmp_path), **overrides))
        return hosts[-1]

    yield build
    for host in hosts:
        host.close()


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
