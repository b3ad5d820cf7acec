"""A real Keystone answers as the compute API and Tempest will need it to."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import webob
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.e2e.keystone_server import KeystoneServer
from tests.support import free_port

pytestmark = pytest.mark.e2e

ROLES = ("admin", "member", "reader")
# Keystone's bootstrap makes admin imply manager, manager imply member, and
# member imply reader: a token carries the implied roles too.
IMPLIED = {
    "admin": {"admin", "manager", "member", "reader"},
    "member": {"member", "reader"},
}


@pytest.fixture(scope="module")
def compute_url(keystone: KeystoneServer) -> str:
    url = f"http://127.0.0.1:{free_port()}/v2.1"
    keystone.register_compute(url)
    return url


@pytest.fixture(scope="module")
def accounts(keystone: KeystoneServer, compute_url: str) -> dict[tuple[str, str], dict[str, str]]:
    """Two projects, each with one user per role: {(project, role): account}."""
    result = {}
    for project_name in ("e2e-alpha", "e2e-beta"):
        project = keystone.create_project(project_name)
        for role in ROLES:
            result[(project_name, role)] = keystone.create_account(
                project, [role], name=f"{project_name}-{role}"
            )
    return result


def login(keystone: KeystoneServer, account: dict[str, str]) -> ks_session.Session:
    auth = v3.Password(
        auth_url=keystone.v3_url,
        username=account["username"],
        password=account["password"],
        user_domain_id="default",
        project_id=account["project_id"],
    )
    return ks_session.Session(auth=auth)


def validate(keystone: KeystoneServer, auth_token: str, subject: str) -> requests.Response:
    return requests.get(
        keystone.v3_url + "/auth/tokens",
        headers={"X-Auth-Token": auth_token, "X-Subject-Token": subject},
        timeout=30,
    )


def test_version_discovery(keystone: KeystoneServer) -> None:
    body = requests.get(keystone.v3_url, timeout=10).json()
    assert body["version"]["id"].startswith("v3.")
    assert body["version"]["status"] == "stable"


def test_tokens_for_every_role(
    keystone: KeystoneServer, accounts: dict[tuple[str, str], dict[str, str]]
) -> None:
    service = keystone.session(
        keystone.service_user()["username"],
        keystone.service_user()["password"],
        project_name="service",
    )
    service_token = service.get_token()
    admin_token = keystone.admin.get_token()
    for (project_name, role), account in accounts.items():
        sess = login(keystone, account)
        access = sess.auth.get_access(sess)
        assert access.user_id == account["user_id"]
        assert access.project_id == account["project_id"]
        assert access.project_name == project_name
        assert set(access.role_names) == IMPLIED.get(role, {role})

        token = sess.get_token()
        # What keystonemiddleware does: the service user validates.
        for checker in (service_token, admin_token):
            resp = validate(keystone, checker, token)
            assert resp.status_code == 200, resp.text
            assert resp.headers["X-Subject-Token"] == token
            body = resp.json()["token"]
            assert body["user"]["id"] == account["user_id"]
            assert body["project"]["id"] == account["project_id"]
            assert role in {r["name"] for r in body["roles"]}

    # A user of one project cannot read another user's token.
    alpha = login(keystone, accounts[("e2e-alpha", "member")]).get_token()
    beta = login(keystone, accounts[("e2e-beta", "member")]).get_token()
    assert validate(keystone, alpha, beta).status_code == 403
    # Garbage is not a token.
    assert validate(keystone, service_token, "not-a-token").status_code == 404


def test_catalog_has_compute(
    keystone: KeystoneServer,
    compute_url: str,
    accounts: dict[tuple[str, str], dict[str, str]],
) -> None:
    for account in (accounts[("e2e-alpha", "reader")], accounts[("e2e-beta", "admin")]):
        sess = login(keystone, account)
        catalog = sess.auth.get_access(sess).service_catalog
        for interface in ("public", "internal", "admin"):
            assert (
                catalog.url_for(
                    service_type="compute", interface=interface, region_name=keystone.region
                )
                == compute_url
            )
        assert catalog.url_for(service_type="identity", interface="public") == keystone.v3_url
        # keystoneauth's endpoint lookup, as openstacksdk/novaclient do it.
        assert (
            sess.get_endpoint(service_type="compute", interface="public", region_name="RegionOne")
            == compute_url
        )


def test_keystone_authtoken_options(
    keystone: KeystoneServer, accounts: dict[tuple[str, str], dict[str, str]]
) -> None:
    """The [keystone_authtoken] dict works in keystonemiddleware as is."""
    from keystonemiddleware import auth_token

    seen: dict[str, Any] = {}

    @webob.dec.wsgify
    def app(req: webob.Request) -> webob.Response:
        seen.update(req.headers)
        return webob.Response(json={"ok": True})

    options = keystone.keystone_authtoken_options()
    assert options["auth_url"] == options["www_authenticate_uri"] == keystone.v3_url
    middleware = auth_token.AuthProtocol(app, dict(options))

    account = accounts[("e2e-beta", "reader")]
    token = login(keystone, account).get_token()
    resp = webob.Request.blank("/v2.1/os-keypairs", headers={"X-Auth-Token": token}).get_response(
        middleware
    )
    assert resp.status_int == 200, resp.text
    assert seen["X-Identity-Status"] == "Confirmed"
    assert seen["X-User-Id"] == account["user_id"]
    assert seen["X-Project-Id"] == account["project_id"]
    assert set(seen["X-Roles"].split(",")) == {"reader"}

    resp = webob.Request.blank("/v2.1/os-keypairs", headers={"X-Auth-Token": "bogus"}).get_response(
        middleware
    )
    assert resp.status_int == 401
    assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.v3_url}"'
