"""Auth boundaries of os-keypairs: who may do what, at which microversion (SPEC §3, §5).

The matrix below is the expected status of every (identity, operation) cell
at microversions 2.1, 2.10 and 2.92.  Users manage their own keys; an admin
may act for another user with ``user_id`` from 2.10; a non-admin naming
another user is refused (403); another user's keypair is invisible (404);
before 2.10 a ``user_id`` query parameter is ignored and a ``user_id`` in the
create body is an unknown property (400).  ``user1`` owns the keypair ``kp1``
at the start of every cell.  ``200*`` is a 200 whose list shows ``kp1``.

Under noauth2 a request without a token is the 204 handshake; under keystone
(keystonemiddleware in process, its identity server unreachable) a missing
or bad token is a 401 compute fault, and a token that cannot be validated
because ``[keystone_authtoken]`` names no auth plugin a 503 fault; never a
500.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from keystoneauth1 import loading

from keypairs_ext.host import app
from keypairs_ext.host import conf as host_conf
from keypairs_ext.host.db import migrate
from tests.conftest import Client, extension_classes, fault
from tests.support import ed25519_line

VERSIONS = ("2.1", "2.10", "2.92")
IDENTITIES = {
    "admin": "admin:adminproject",
    "member": "user1:project1",
    "same-project": "user2:project1",
    "other-project": "user3:project2",
}

# fmt: off
MATRIX = """
identity       operation       2.1    2.10   2.92
admin          index           200    200    200
admin          index-user1     200    200*   200*
admin          create          200    201    201
admin          create-user1    400    201    201
admin          show            404    404    404
admin          show-user1      404    200    200
admin          delete          404    404    404
admin          delete-user1    404    204    204
member         index           200*   200*   200*
member         index-user1     200*   200*   200*
member         create          200    201    201
member         create-user1    400    201    201
member         show            200    200    200
member         show-user1      200    200    200
member         delete          202    204    204
member         delete-user1    202    204    204
same-project   index           200    200    200
same-project   index-user1     200    403    403
same-project   create          200    201    201
same-project   create-user1    400    403    403
same-project   show            404    404    404
same-project   show-user1      404    403    403
same-project   delete          404    404    404
same-project   delete-user1    404    403    403
other-project  index           200    200    200
other-project  index-user1     200    403    403
other-project  create          200    201    201
other-project  create-user1    400    403    403
other-project  show            404    404    404
other-project  show-user1      404    403    403
other-project  delete          404    404    404
other-project  delete-user1    404    403    403
"""
# fmt: on
OPERATIONS = (
    "index",
    "index-user1",
    "create",
    "create-user1",
    "show",
    "show-user1",
    "delete",
    "delete-user1",
)
FAULTS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    503: "serviceUnavailable",
}


def parse_matrix() -> dict[tuple[str, str, str], str]:
    lines = [line.split() for line in MATRIX.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    versions = header[2:]
    assert tuple(versions) == VERSIONS
    cells = {}
    for identity, operation, *statuses in rows:
        for version, status in zip(versions, statuses, strict=True):
            cells[identity, operation, version] = status
    # The table is complete: every identity, operation and version once.
    assert set(cells) == set(itertools.product(IDENTITIES, OPERATIONS, VERSIONS))
    return cells


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """Authorization does not depend on the backend: SQLite only."""
    return f"sqlite:///{tmp_path}/keypairs.sqlite"


class Cells:
    """Runs one operation as one identity with ``kp1`` of user1 in place."""

    def __init__(self, api: Any) -> None:
        self.owner = Client(api, IDENTITIES["member"], "2.92")
        self.api = api
        self.names = itertools.count()

    def ensure_kp1(self) -> None:
        if self.owner.get("/v2.1/os-keypairs/kp1").status_int == 404:
            body = {"keypair": {"name": "kp1", "public_key": ed25519_line()}}
            created = self.owner.post("/v2.1/os-keypairs", body)
            assert created.status_int == 201, created.text

    def kp1_exists(self) -> bool:
        return self.owner.get("/v2.1/os-keypairs/kp1").status_int == 200

    def run(self, token: str | None, operation: str, version: str) -> Any:
        client = Client(self.api, token, version)
        for_user1 = operation.endswith("-user1")
        query = "?user_id=user1" if for_user1 else ""
        if operation.startswith("index"):
            return client.get(f"/v2.1/os-keypairs{query}")
        if operation.startswith("show"):
            return client.get(f"/v2.1/os-keypairs/kp1{query}")
        if operation.startswith("delete"):
            return client.delete(f"/v2.1/os-keypairs/kp1{query}")
        keypair = {"name": f"made-{next(self.names)}", "public_key": ed25519_line()}
        if for_user1:
            keypair["user_id"] = "user1"
        return client.post("/v2.1/os-keypairs", {"keypair": keypair})


def lists_kp1(response: Any) -> bool:
    return "kp1" in [k["keypair"]["name"] for k in response.json["keypairs"]]


def test_noauth2_matrix(make_host: Any) -> None:
    cells = Cells(make_host().api)
    mismatches = []
    for (identity, operation, version), expected in parse_matrix().items():
        cells.ensure_kp1()
        user = IDENTITIES[identity].split(":")[0]
        response = cells.run(IDENTITIES[identity], operation, version)
        status = response.status_int
        shown = (
            f"{status}*"
            if status == 200 and operation.startswith("index") and lists_kp1(response)
            else str(status)
        )
        if shown != expected:
            mismatches.append((identity, operation, version, expected, shown, response.text))
            continue
        if status >= 400:
            assert fault(response)[0] == FAULTS[status], response.text
        elif operation.startswith("create"):
            acting_for_user1 = operation == "create-user1" and version != "2.1"
            owner = "user1" if acting_for_user1 else user
            assert response.json["keypair"]["user_id"] == owner
        elif operation.startswith("show"):
            assert response.json["keypair"]["user_id"] == "user1"
        elif operation.startswith("delete"):
            assert not cells.kp1_exists()
        if status < 400 and not operation.startswith("delete"):
            assert cells.kp1_exists()
    assert mismatches == []


def test_noauth2_without_token_is_the_handshake(make_host: Any) -> None:
    cells = Cells(make_host().api)
    cells.ensure_kp1()
    for operation, version in itertools.product(OPERATIONS, VERSIONS):
        response = cells.run(None, operation, version)
        assert response.status_int == 204, (operation, version, response.text)
        assert response.headers["X-Auth-Token"] == "admin:admin"
        assert response.body == b""
    assert cells.kp1_exists()


def test_noauth2_project_in_the_url_must_be_the_callers(make_host: Any) -> None:
    api = make_host().api
    for identity, token in IDENTITIES.items():
        project = token.split(":")[1]
        for version in VERSIONS:
            client = Client(api, token, version)
            assert client.get(f"/v2.1/{project}/os-keypairs").status_int == 200
            other = "project2" if project != "project2" else "project1"
            response = client.get(f"/v2.1/{other}/os-keypairs")
            assert response.status_int == 400, (identity, version)
            assert fault(response)[0] == "badRequest"


# --- keystone -------------------------------------------------------------------

KEYSTONE = "http://127.0.0.1:9/v3"  # nothing listens on the discard port


def keystone_host(tmp_path: Any, with_plugin: bool) -> app.Host:
    """keystonemiddleware with a password plugin, or with no auth plugin at all."""
    conf = app.make_conf([])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("connection", f"sqlite:///{tmp_path}/keypairs.sqlite", group="database")
    for cls in extension_classes(conf):
        cls.register_opts(conf)
    group = "keystone_authtoken"
    conf.set_override("auth_strategy", "keystone", group="api")
    host_conf.register_keystone_opts(conf)
    conf.set_override("www_authenticate_uri", KEYSTONE, group=group)
    conf.set_override("http_request_max_retries", 0, group=group)
    if with_plugin:
        conf.set_override("auth_type", "password", group=group)
        conf.register_opts(loading.get_auth_plugin_conf_options("password"), group=group)
        for name, value in {
            "auth_url": KEYSTONE,
            "username": "nova",
            "password": "secret",
            "project_name": "service",
            "user_domain_id": "default",
            "project_domain_id": "default",
        }.items():
            conf.set_override(name, value, group=group)
    host = app.build(conf)
    migrate.sync(host.database.writer.get_engine(), [type(e) for e in host.extensions])
    return host


@pytest.mark.parametrize(
    ("with_plugin", "token", "status"),
    [
        (True, None, 401),
        (True, "not-a-token", 401),
        (True, "user1:project1", 401),  # a noauth2 token means nothing here
        (False, None, 401),
        (False, "not-a-token", 503),  # no auth plugin: no token can be validated
    ],
    ids=[
        "no-token",
        "bad-token",
        "noauth2-token",
        "misconfigured-no-token",
        "misconfigured-bad-token",
    ],
)
def test_keystone_refuses_missing_and_bad_tokens(
    tmp_path: Any, with_plugin: bool, token: str | None, status: int
) -> None:
    host = keystone_host(tmp_path, with_plugin)
    try:
        cells = Cells(host.api)
        for operation, version in itertools.product(OPERATIONS, VERSIONS):
            response = cells.run(token, operation, version)
            assert response.status_int == status, (operation, version, response.text)
            assert fault(response)[0] == FAULTS[status]
            assert "Traceback" not in response.text
            if status == 401:
                assert response.headers["WWW-Authenticate"] == f'Keystone uri="{KEYSTONE}"'
        # Version discovery needs no token (and a bad one does not spoil it).
        assert Client(host.api, None).get("/").status_int == 200
        if with_plugin:
            assert Client(host.api, token).get("/").status_int == 200
    finally:
        host.close()
