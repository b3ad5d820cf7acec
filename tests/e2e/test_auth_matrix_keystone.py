"""Auth boundaries under real Keystone: identity x operation x microversion.

Identities: the keypair's owner (member), an admin of the same project, a
reader, another user of the same project, a user of another project, no
token, and a token Keystone never issued.  The default policy lets every
authenticated user manage their own keypairs (a reader included, as in
OpenStack Compute); only an admin acts for another user (``user_id``,
2.10+); another user's keypair is invisible (404).
"""

from __future__ import annotations

import http.client
import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("keystone")]

OWNER = "owner"
IDENTITIES = ("owner", "admin", "reader", "same_project", "other_project")


@pytest.fixture(scope="module")
def world(compute_cloud):
    """Fresh accounts (keypairs belong to users) and their tokens."""
    accounts = {
        "owner": compute_cloud.new_account("member"),
        "admin": compute_cloud.new_account("admin"),
        "reader": compute_cloud.new_account("reader"),
        "same_project": compute_cloud.new_account("member"),
        "other_project": compute_cloud.new_account("member", project="kp-e2e-beta"),
    }
    tokens = {name: compute_cloud.session(a).get_token() for name, a in accounts.items()}
    return compute_cloud.api, accounts, tokens


def call(api, token, method, path, version, body=None):
    status, payload = api.request(method, path, body, token=token, version=version)
    return status, payload


def ensure_owner_key(api, tokens, name="kp"):
    status, _ = call(api, tokens[OWNER], "GET", f"/os-keypairs/{name}", "2.2")
    if status == 404:
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDi0mQnzrkXcPg3hrAK0SGf3+b7Ik0VBwRRpqpGX4B6D"
        status, body = call(
            api,
            tokens[OWNER],
            "POST",
            "/os-keypairs",
            "2.2",
            {"keypair": {"name": name, "public_key": key}},
        )
        assert status == 201, body


@pytest.mark.parametrize("version", ["2.1", "2.10", "2.92"])
@pytest.mark.parametrize("identity", IDENTITIES)
def test_own_keypairs(world, identity, version):
    """Everyone authenticated manages their own keypairs."""
    api, _, tokens = world
    token = tokens[identity]
    name = f"own-{version.replace('.', '-')}"
    created = 200 if version == "2.1" else 201
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBtNDfqfU3ClYSIIrYwFbDfj6R8LCqUH9Yqhn9qWjgki"
    status, body = call(
        api, token, "POST", "/os-keypairs", version, {"keypair": {"name": name, "public_key": key}}
    )
    assert status == created, body
    status, body = call(api, token, "GET", "/os-keypairs", version)
    assert status == 200 and name in [k["keypair"]["name"] for k in body["keypairs"]]
    assert call(api, token, "GET", f"/os-keypairs/{name}", version)[0] == 200
    deleted = 202 if version == "2.1" else 204
    assert call(api, token, "DELETE", f"/os-keypairs/{name}", version)[0] == deleted


@pytest.mark.parametrize("version", ["2.1", "2.10", "2.92"])
@pytest.mark.parametrize("identity", IDENTITIES)
def test_someone_elses_keypair_by_name_is_invisible(world, identity, version):
    api, _, tokens = world
    ensure_owner_key(api, tokens)
    expected = 200 if identity == OWNER else 404
    assert call(api, tokens[identity], "GET", "/os-keypairs/kp", version)[0] == expected
    if identity != OWNER:
        assert call(api, tokens[identity], "DELETE", "/os-keypairs/kp", version)[0] == 404


# (identity, operation) -> status at 2.10 and 2.92 when naming the owner's user_id
ACTING_FOR_OWNER = {
    "owner": {"index": 200, "show": 200},
    "admin": {"index": 200, "show": 200},
    "reader": {"index": 403, "show": 403},
    "same_project": {"index": 403, "show": 403},
    "other_project": {"index": 403, "show": 403},
}


@pytest.mark.parametrize("version", ["2.10", "2.92"])
@pytest.mark.parametrize("identity", IDENTITIES)
def test_acting_for_another_user(world, identity, version):
    api, accounts, tokens = world
    ensure_owner_key(api, tokens)
    owner_id = accounts[OWNER]["user_id"]
    token = tokens[identity]
    status, body = call(api, token, "GET", f"/os-keypairs?user_id={owner_id}", version)
    assert status == ACTING_FOR_OWNER[identity]["index"], body
    if status == 200:
        assert "kp" in [k["keypair"]["name"] for k in body["keypairs"]]
    else:
        assert body["forbidden"]["message"] == (
            "Policy doesn't allow os_compute_api:os-keypairs:index to be performed."
        )
    status, _ = call(api, token, "GET", f"/os-keypairs/kp?user_id={owner_id}", version)
    assert status == ACTING_FOR_OWNER[identity]["show"]

    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMs1ZnNRP80fDZ8GvA1wOMNL8Vh0IUyM1W3v7fZqJs2m"
    name = f"for-owner-by-{identity}"
    status, body = call(
        api,
        token,
        "POST",
        "/os-keypairs",
        version,
        {"keypair": {"name": name, "public_key": key, "user_id": owner_id}},
    )
    if identity in ("owner", "admin"):
        assert status == 201 and body["keypair"]["user_id"] == owner_id
        status, _ = call(api, token, "DELETE", f"/os-keypairs/{name}?user_id={owner_id}", version)
        assert status == 204
    else:
        assert status == 403
        assert call(api, token, "DELETE", f"/os-keypairs/kp?user_id={owner_id}", version)[0] == 403


@pytest.mark.parametrize("identity", IDENTITIES)
def test_user_id_is_ignored_before_2_10(world, identity):
    api, accounts, tokens = world
    ensure_owner_key(api, tokens)
    owner_id = accounts[OWNER]["user_id"]
    status, body = call(api, tokens[identity], "GET", f"/os-keypairs?user_id={owner_id}", "2.9")
    assert status == 200
    names = [k["keypair"]["name"] for k in body["keypairs"]]
    assert ("kp" in names) == (identity == OWNER)


@pytest.mark.parametrize("token", [None, "gAAAAA-not-a-token-keystone-issued"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/os-keypairs"),
        ("POST", "/os-keypairs"),
        ("GET", "/os-keypairs/kp"),
        ("DELETE", "/os-keypairs/kp"),
    ],
)
def test_no_or_bad_token_is_401(world, token, method, path):
    api, _, _ = world
    headers = {"OpenStack-API-Version": "compute 2.2"}
    if token is not None:
        headers["X-Auth-Token"] = token
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    connection.request(method, "/v2.1" + path, headers=headers)
    response = connection.getresponse()
    status, body = response.status, json.loads(response.read())
    connection.close()
    assert status == 401
    assert body == {
        "unauthorized": {
            "code": 401,
            "message": "The request you have made requires authentication.",
        }
    }
    assert response.getheader("WWW-Authenticate", "").startswith("Keystone uri=")
