import subprocess

import pytest
import webob

from keypairs_ext.host import app, auth, metadata


def _request(headers):
    request = webob.Request.blank("/v2.1/project1/os-keypairs")
    request.headers.update(headers)
    return request


def test_noauth2_token_is_user_and_project():
    context = auth.NoAuth2().context(_request({"X-Auth-Token": "alice:proj"}))
    assert (context.user_id, context.project_id, context.is_admin) == ("alice", "proj", False)
    assert "admin" not in context.roles


def test_noauth2_admin_user_is_admin():
    context = auth.NoAuth2().context(_request({"X-Auth-Token": "admin:proj"}))
    assert context.is_admin and "admin" in context.roles


def test_noauth2_token_without_project_uses_the_user():
    context = auth.NoAuth2().context(_request({"X-Auth-Token": "bob"}))
    assert (context.user_id, context.project_id) == ("bob", "bob")


def test_noauth2_handshake_without_token():
    with pytest.raises(auth.Handshake) as caught:
        auth.NoAuth2().context(_request({"X-Auth-User": "carol", "X-Auth-Project-Id": "p9"}))
    assert caught.value.headers == {
        "X-Auth-Token": "carol:p9",
        "X-Server-Management-Url": "http://localhost/v2.1/project1/os-keypairs",
    }


def test_keystone_context_from_auth_token_headers():
    request = _request(
        {
            "X-Identity-Status": "Confirmed",
            "X-User-Id": "u-1",
            "X-Project-Id": "p-1",
            "X-Roles": "reader,admin",
        }
    )
    context = auth.Keystone().context(request)
    assert (context.user_id, context.project_id, context.is_admin) == ("u-1", "p-1", True)


@pytest.mark.parametrize("status", [None, "Invalid"])
def test_keystone_refuses_unconfirmed_identity(status):
    headers = {"X-User-Id": "u-1", "X-Project-Id": "p-1"}
    if status:
        headers["X-Identity-Status"] = status
    with pytest.raises(auth.Unauthorized):
        auth.Keystone().context(_request(headers))


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.0.2.10", False),
        ("::", False),
        ("example.com", False),
    ],
)
def test_noauth2_binds_only_loopback(host, allowed):
    conf = app.make_conf([])
    if allowed:
        auth.check_bind(conf, host)
    else:
        with pytest.raises(auth.InsecureBind, match="refusing to listen on"):
            auth.check_bind(conf, host)


def test_override_and_keystone_allow_public_addresses():
    conf = app.make_conf([])
    conf.set_override("allow_noauth2_on_public_address", True, group="api")
    auth.check_bind(conf, "0.0.0.0")
    conf = app.make_conf([])
    conf.set_override("auth_strategy", "keystone", group="api")
    auth.check_bind(conf, "0.0.0.0")


def test_signature_is_hex_hmac_sha256_as_openssl_computes_it():
    openssl = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", "s3cret"],
        input=b"instance-1",
        capture_output=True,
        check=True,
    )
    expected = openssl.stdout.decode().split("= ")[-1].strip()
    assert metadata.sign("instance-1", "s3cret") == expected
    assert metadata.sign("instance-2", "s3cret") != expected


@pytest.mark.parametrize("token", ["a\x1fb:p", "ab:p\x7f", "\x00:p", "a:" + "p" * 256, ":"])
def test_noauth2_refuses_ids_no_identity_service_issues(token):
    with pytest.raises(auth.Unauthorized):
        auth.NoAuth2().context(_request({"X-Auth-Token": token}))


def test_noauth2_ids_may_hold_any_printable_character():
    context = auth.NoAuth2().context(_request({"X-Auth-Token": "a b~é\x80:" + "p" * 255}))
    assert (context.user_id, context.project_id) == ("a b~é\x80", "p" * 255)


def test_noauth2_contexts_of_one_token_do_not_share_their_roles():
    first = auth.NoAuth2().context(_request({"X-Auth-Token": "alice:proj:reader"}))
    first.roles.append("admin")
    second = auth.NoAuth2().context(_request({"X-Auth-Token": "alice:proj:reader"}))
    assert second.roles == ["reader"] and not second.is_admin
