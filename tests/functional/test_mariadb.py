"""MariaDB/MySQL: schema from ``keypairs-manage db sync`` and the API on it.

What differs from SQLite and PostgreSQL there: a database's default collation
is case-insensitive (and ignores trailing spaces), so the columns compared by
exact bytes (keypair names and user ids) need a binary collation, and
DATETIME keeps no microseconds unless declared with a precision.
"""

from __future__ import annotations

import datetime
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from keypairs_ext.extension import Keypairs
from keypairs_ext.host.db import migrate
from tests import conftest
from tests.conftest import Client, fault
from tests.support import command, ed25519_line, migration_head


@pytest.fixture
def empty_mysql(tmp_path: Any) -> Iterator[str]:
    conftest._need(conftest.MYSQL_URL, "MariaDB/MySQL")
    url = conftest.create_database(conftest.MYSQL_URL)
    yield url
    conftest.drop_database(conftest.MYSQL_URL, url)


def manage(tmp_path: Any, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "keypairs.conf"
    config.write_text(f"[database]\nconnection = {url}\n")
    return subprocess.run(
        [command("keypairs-manage"), "--config-file", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_db_sync_from_empty_and_again(tmp_path: Any, empty_mysql: str) -> None:
    for _ in range(2):
        result = manage(tmp_path, empty_mysql, "db", "sync")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Migrated to head: host, os-keypairs"
    version = manage(tmp_path, empty_mysql, "db", "version")
    assert version.stdout.splitlines() == [
        f"host: {migration_head(migrate.HOST_MIGRATIONS)}",
        f"os-keypairs: {migration_head(Keypairs.migrations())}",
    ]
    engine = sa.create_engine(empty_mysql)
    try:
        with engine.connect() as connection:
            columns = {
                (row.TABLE_NAME, row.COLUMN_NAME): (row.COLUMN_TYPE, row.COLLATION_NAME)
                for row in connection.execute(
                    sa.text(
                        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME "
                        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                    )
                )
            }
    finally:
        engine.dispose()
    assert columns[("key_pairs", "name")] == ("varchar(255)", "utf8mb4_bin")
    assert columns[("key_pairs", "user_id")] == ("varchar(255)", "utf8mb4_bin")
    assert columns[("key_pair_usages", "user_id")] == ("varchar(255)", "utf8mb4_bin")
    assert columns[("key_pairs", "created_at")][0] == "datetime(6)"
    assert columns[("key_pairs", "updated_at")][0] == "datetime(6)"


def test_upgrade_keeps_rows_of_users_differing_in_case(empty_mysql: str) -> None:
    """keypairs_0003 turns user_id binary on an existing database."""
    engine = sa.create_engine(empty_mysql)
    table = migrate.version_table_for(Keypairs.alias)
    try:
        migrate.upgrade(engine, Keypairs.migrations(), table, target="keypairs_0002")
        with engine.begin() as connection:
            for user, name in (("u", "kp"), ("U", "other")):
                connection.execute(
                    sa.text(
                        "INSERT INTO key_pairs (user_id, name, fingerprint, public_key, type, "
                        "created_at) VALUES (:u, :n, 'f', 'k', 'ssh', '2020-01-01')"
                    ),
                    {"u": user, "n": name},
                )
            # before: "U" finds "u"'s keypair
            assert connection.execute(
                sa.text("SELECT name FROM key_pairs WHERE user_id = 'U' ORDER BY name")
            ).scalars().all() == ["kp", "other"]
        migrate.upgrade(engine, Keypairs.migrations(), table)
        with engine.connect() as connection:
            assert connection.execute(
                sa.text("SELECT name FROM key_pairs WHERE user_id = 'U'")
            ).scalars().all() == ["other"]
    finally:
        engine.dispose()


# --- the API on MariaDB (conftest's make_host, on this module's database) ---------


@pytest.fixture
def database_url(mysql_url: str) -> str:
    """Overrides conftest's sqlite/postgresql parameters: MariaDB only."""
    conftest._prepare_shared(mysql_url)
    return mysql_url


def create(client: Client, name: str, token: str | None = None, version: str = "2.2") -> Any:
    user = client.as_user(token) if token else client
    return user.post(
        "/v2.1/os-keypairs",
        {"keypair": {"name": name, "public_key": ed25519_line()}},
        version=version,
    )


def test_names_are_exact_bytes(make_host: Any) -> None:
    client = Client(make_host().api)
    for name in ("kp", "KP", "Kp", "k-p"):
        assert create(client, name).status_int == 201
    duplicate = create(client, "kp")
    assert fault(duplicate) == ("conflictingRequest", 409, "Key pair 'kp' already exists.")

    listed = client.get("/v2.1/os-keypairs", version="2.35").json["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["KP", "Kp", "k-p", "kp"]
    page = client.get("/v2.1/os-keypairs?limit=2&marker=KP", version="2.35").json
    assert [k["keypair"]["name"] for k in page["keypairs"]] == ["Kp", "k-p"]
    assert client.get("/v2.1/os-keypairs/kP", version="2.2").status_int == 404

    assert client.delete("/v2.1/os-keypairs/KP", version="2.2").status_int == 204
    assert client.get("/v2.1/os-keypairs/kp", version="2.2").status_int == 200


def test_user_ids_are_exact_bytes(make_host: Any) -> None:
    host = make_host(quota__key_pairs=1)
    client = Client(host.api, token="alice:p1")
    assert create(client, "mine").status_int == 201
    shouting = client.as_user("ALICE:p1")
    assert shouting.get("/v2.1/os-keypairs", version="2.2").json == {"keypairs": []}
    assert shouting.get("/v2.1/os-keypairs/mine", version="2.2").status_int == 404
    assert shouting.delete("/v2.1/os-keypairs/mine", version="2.2").status_int == 404
    # a quota of its own, and the same name is free for it
    assert create(client, "mine", token="ALICE:p1").status_int == 201


def test_quota(make_host: Any) -> None:
    client = Client(make_host(quota__key_pairs=2).api)
    assert [create(client, f"k{i}").status_int for i in range(2)] == [201, 201]
    over = create(client, "k2")
    assert fault(over) == ("forbidden", 403, "Quota exceeded, too many key pairs.")
    assert client.delete("/v2.1/os-keypairs/k0", version="2.2").status_int == 204
    assert create(client, "k2").status_int == 201
    assert len(client.get("/v2.1/os-keypairs").json["keypairs"]) == 2


def test_timestamps_keep_microseconds(make_host: Any) -> None:
    client = Client(make_host().api)
    before = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    stamps = []
    for i in range(3):
        assert create(client, f"t{i}").status_int == 201
        shown = client.get(f"/v2.1/os-keypairs/t{i}", version="2.2").json["keypair"]
        stamps.append(datetime.datetime.strptime(shown["created_at"], "%Y-%m-%dT%H:%M:%S.%f"))
    assert all(before <= stamp for stamp in stamps)
    assert any(stamp.microsecond for stamp in stamps)


def test_server_with_key_name(make_host: Any) -> None:
    client = Client(make_host().api)
    assert create(client, "boot").status_int == 201
    response = client.post(
        "/v2.1/servers",
        {"server": {"name": "vm", "imageRef": "img", "flavorRef": "1", "key_name": "boot"}},
        version="2.2",
    )
    assert response.status_int == 202, response.text
    server_id = response.json["server"]["id"]
    assert client.delete("/v2.1/os-keypairs/boot", version="2.2").status_int == 204
    shown = client.get(f"/v2.1/servers/{server_id}", version="2.2").json["server"]
    assert shown["key_name"] == "boot"


def test_projects_differing_in_case_do_not_share_servers(make_host: Any) -> None:
    host = make_host()
    lower = Client(host.api, token="u1:proj")
    upper = Client(host.api, token="u2:PROJ")
    body = {"server": {"name": "vm", "flavorRef": "1", "imageRef": "i"}}
    assert lower.post("/v2.1/servers", body).status_int == 202
    assert upper.get("/v2.1/servers").json == {"servers": []}
    assert len(lower.get("/v2.1/servers").json["servers"]) == 1
