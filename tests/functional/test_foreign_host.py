"""The extension works in a host other than ours, through the contract alone."""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import webob

from tests.functional import foreign_host
from tests.functional.foreign_host import ForeignHost
from tests.functional.keypairs_helpers import md5_fingerprint
from tests.support import ed25519_line, migration_head


def call(app: Any, method: str, path: str, body: Any = None, user: str = "alice") -> Any:
    request = webob.Request.blank(path, method=method, headers={"X-Foreign-User": user})
    if body is not None:
        request.json_body = body
    return request.get_response(app)


@pytest.fixture
def host(empty_database: str) -> Iterator[ForeignHost]:
    host = ForeignHost(empty_database, quota=3)
    host.migrate()
    yield host
    host.database.writer.get_engine().dispose()


def test_it_imports_nothing_of_the_package_but_the_contract():
    tree = ast.parse(pathlib.Path(foreign_host.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    ours = {name for name in imported if name.startswith("keypairs_ext")}
    assert ours == {"keypairs_ext.host.contract"}
    assert len(pathlib.Path(foreign_host.__file__).read_text().splitlines()) < 300


def test_migrations_run_with_the_hosts_own_runner(host: ForeignHost) -> None:
    engine = host.database.writer.get_engine()
    tables = set(sa.inspect(engine).get_table_names())
    assert {"key_pairs", "key_pair_usages", "foreign_servers"} <= tables
    with engine.connect() as connection:
        (revision,) = connection.execute(
            sa.text("SELECT version_num FROM foreign_version_os_keypairs")
        ).one()
    assert revision == migration_head(host.extensions[0].migrations())
    host.migrate()  # at head: nothing to do, nothing refused


def test_import_generate_show_list_and_delete(host: ForeignHost) -> None:
    assert [e.alias for e in host.extensions] == ["os-keypairs"]
    line = ed25519_line("alice@laptop")
    imported = call(host, "POST", "/os-keypairs", {"keypair": {"name": "imp", "public_key": line}})
    assert imported.status_int == 201, imported.body
    assert imported.json["keypair"]["public_key"] == line
    assert "private_key" not in imported.json["keypair"]
    assert imported.json["keypair"]["fingerprint"] == md5_fingerprint(line)

    generated = call(host, "POST", "/os-keypairs", {"keypair": {"name": "gen"}})
    assert generated.status_int == 201
    assert generated.json["keypair"]["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")

    shown = call(host, "GET", "/os-keypairs/imp")
    assert shown.status_int == 200
    assert (shown.json["keypair"]["name"], shown.json["keypair"]["public_key"]) == ("imp", line)
    assert shown.json["keypair"]["user_id"] == "alice"

    listed = call(host, "GET", "/os-keypairs")
    assert [k["keypair"]["name"] for k in listed.json["keypairs"]] == ["gen", "imp"]
    assert call(host, "GET", "/os-keypairs", user="bob").json == {"keypairs": []}

    assert call(host, "DELETE", "/os-keypairs/imp").status_int == 204
    missing = call(host, "GET", "/os-keypairs/imp")
    assert (missing.status_int, missing.json) == (
        404,
        {"error": "Keypair imp not found for user alice"},
    )


def test_list_pages_by_marker(host: ForeignHost) -> None:
    for name in ("c", "a", "b"):
        body = {"keypair": {"name": name, "public_key": ed25519_line()}}
        assert call(host, "POST", "/os-keypairs", body).status_int == 201
    first = call(host, "GET", "/os-keypairs?limit=2").json
    assert [k["keypair"]["name"] for k in first["keypairs"]] == ["a", "b"]
    (link,) = first["keypairs_links"]
    following = urlsplit(link["href"])
    second = call(host, "GET", f"{following.path}?{following.query}").json
    assert [k["keypair"]["name"] for k in second["keypairs"]] == ["c"]
    assert "keypairs_links" not in second
    unknown = call(host, "GET", "/os-keypairs?marker=zz")
    assert (unknown.status_int, unknown.json) == (400, {"error": "Marker zz could not be found."})


def test_a_duplicate_is_409_and_the_quota_403(host: ForeignHost) -> None:
    body = {"keypair": {"name": "k1", "public_key": ed25519_line()}}
    assert call(host, "POST", "/os-keypairs", body).status_int == 201
    duplicate = call(host, "POST", "/os-keypairs", body)
    assert (duplicate.status_int, duplicate.json) == (
        409,
        {"error": "Key pair 'k1' already exists."},
    )
    for name in ("k2", "k3"):
        body = {"keypair": {"name": name, "public_key": ed25519_line()}}
        assert call(host, "POST", "/os-keypairs", body).status_int == 201
    over = call(host, "POST", "/os-keypairs", {"keypair": {"name": "k4"}})
    assert (over.status_int, over.json) == (403, {"error": "Quota exceeded, too many key pairs."})
    other_user = call(host, "POST", "/os-keypairs", {"keypair": {"name": "k4"}}, user="bob")
    assert other_user.status_int == 201


def test_bad_input_and_another_users_key_are_refused(host: ForeignHost) -> None:
    bad_name = call(host, "POST", "/os-keypairs", {"keypair": {"name": "a/b"}})
    assert bad_name.status_int == 400
    assert "A key pair name may contain only" in bad_name.json["error"]
    other = call(host, "GET", "/os-keypairs/k1?user_id=alice", user="bob")
    assert other.status_int == 403
    assert "os_compute_api:os-keypairs:show" in other.json["error"]


def test_a_servers_key_reaches_its_metadata(host: ForeignHost) -> None:
    line = ed25519_line("alice@laptop")
    call(host, "POST", "/os-keypairs", {"keypair": {"name": "login", "public_key": line}})
    created = call(host, "POST", "/servers", {"server": {"name": "vm", "key_name": "login"}})
    assert created.status_int == 202
    server = created.json["server"]
    assert (server["name"], server["key_name"]) == ("vm", "login")

    # Told after the commit, the extension recorded which server uses the key.
    with host.database.writer.get_engine().connect() as connection:
        users = connection.execute(sa.text("SELECT server_id FROM key_pair_servers")).all()
    assert [row.server_id for row in users] == [server["id"]]

    # Deleting the keypair later changes nothing the server was given.
    assert call(host, "DELETE", "/os-keypairs/login").status_int == 204
    metadata = call(host, "GET", f"/servers/{server['id']}/meta_data.json")
    assert metadata.status_int == 200
    assert metadata.json["uuid"] == server["id"]
    assert metadata.json["public_keys"] == {"login": line}
    assert metadata.json["keys"] == [{"name": "login", "type": "ssh", "data": line}]


def test_a_server_with_an_unknown_key_is_refused(host: ForeignHost) -> None:
    refused = call(host, "POST", "/servers", {"server": {"name": "vm", "key_name": "nope"}})
    assert refused.status_int == 400
    assert refused.json == {"error": "Invalid key_name provided."}
    plain = call(host, "POST", "/servers", {"server": {"name": "vm"}})
    assert plain.status_int == 202 and plain.json["server"]["key_name"] is None
    metadata = call(host, "GET", f"/servers/{plain.json['server']['id']}/meta_data.json").json
    assert "public_keys" not in metadata


def test_foreign_host_fails_fast_on_a_missing_entry_point(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="no-such-extension"):
        ForeignHost(
            f"sqlite:///{tmp_path}/f.sqlite", entry_points=("keypairs", "no-such-extension")
        )
