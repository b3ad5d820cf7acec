"""The extension works in a host other than ours, through the contract alone."""

from __future__ import annotations

import webob

from tests.functional.foreign_host import ForeignHost


def call(app, method, path, body=None, user="alice"):
    request = webob.Request.blank(path, method=method, headers={"X-Foreign-User": user})
    if body is not None:
        request.json_body = body
    return request.get_response(app)


def test_foreign_host_serves_os_keypairs(tmp_path):
    host = ForeignHost(f"sqlite:///{tmp_path}/foreign.sqlite")
    host.migrate()
    assert [e.alias for e in host.extensions] == ["os-keypairs"]

    created = call(host, "POST", "/os-keypairs", {"keypair": {"name": "k1"}})
    assert created.status_int == 200
    assert created.json["keypair"]["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")

    listed = call(host, "GET", "/os-keypairs")
    assert [k["keypair"]["name"] for k in listed.json["keypairs"]] == ["k1"]
    assert call(host, "GET", "/os-keypairs", user="bob").json == {"keypairs": []}

    duplicate = call(host, "POST", "/os-keypairs", {"keypair": {"name": "k1"}})
    assert (duplicate.status_int, duplicate.json) == (
        409,
        {"error": "Key pair 'k1' already exists."},
    )

    assert call(host, "DELETE", "/os-keypairs/k1").status_int == 202
    assert call(host, "GET", "/os-keypairs/k1").status_int == 404


def test_foreign_host_fails_fast_on_a_missing_entry_point(tmp_path):
    import pytest

    with pytest.raises(RuntimeError, match="no-such-extension"):
        ForeignHost(
            f"sqlite:///{tmp_path}/f.sqlite", entry_points=("keypairs", "no-such-extension")
        )
