"""The metadata service: signed instance ids only, OpenStack and EC2 trees."""

from __future__ import annotations

import json

import pytest
import webob

from keypairs_ext.host.metadata import sign
from tests.conftest import Client

SECRET = "metadata-secret"


def boot(host, **server):
    body = {"server": {"name": "vm", "imageRef": "img", "flavorRef": "1", **server}}
    response = Client(host.api).post("/v2.1/servers", body)
    assert response.status_int == 202, response.body
    return response.json["server"]["id"]


def fetch(host, path, instance_id=None, signature=None, method="GET"):
    request = webob.Request.blank(path, method=method)
    if instance_id is not None:
        request.headers["X-Instance-ID"] = instance_id
        request.headers["X-Instance-ID-Signature"] = signature or sign(instance_id, SECRET)
    return request.get_response(host.metadata)


def test_meta_data_json(host):
    server_id = boot(host, metadata={"a": "b"})
    response = fetch(host, "/openstack/latest/meta_data.json", server_id)
    assert response.status_int == 200 and response.content_type == "application/json"
    document = json.loads(response.body)
    assert document["uuid"] == server_id
    assert (document["name"], document["project_id"], document["meta"]) == (
        "vm",
        "project1",
        {"a": "b"},
    )
    assert "public_keys" not in document


def test_listings(host):
    server_id = boot(host)
    assert fetch(host, "/openstack", server_id).text.splitlines()[-1] == "latest"
    assert fetch(host, "/openstack/latest/", server_id).text.splitlines() == ["meta_data.json"]
    assert fetch(host, "/openstack/2013-10-17/meta_data.json", server_id).status_int == 200
    assert "meta-data/" in fetch(host, "/latest/", server_id).text.splitlines()
    assert fetch(host, "/latest/meta-data/instance-id", server_id).text == server_id


def test_user_data_when_present(host):
    server_id = boot(host, user_data="IyFjbG91ZC1jb25maWc=")
    assert "user_data" in fetch(host, "/openstack/latest/", server_id).text.splitlines()
    assert fetch(host, "/openstack/latest/user_data", server_id).text == "IyFjbG91ZC1jb25maWc="


@pytest.mark.parametrize("name", ["user_data", "vendor_data.json", "network_data.json"])
def test_absent_documents_are_404(host, name):
    server_id = boot(host)
    assert fetch(host, f"/openstack/latest/{name}", server_id).status_int == 404


def test_missing_headers_are_400(host):
    response = fetch(host, "/openstack/latest/meta_data.json")
    assert response.status_int == 400
    assert response.json == {
        "badRequest": {
            "code": 400,
            "message": "X-Instance-ID and X-Instance-ID-Signature are required.",
        }
    }


def test_wrong_signature_is_403(host):
    server_id = boot(host)
    response = fetch(host, "/openstack/latest/meta_data.json", server_id, signature="0" * 64)
    assert response.status_int == 403
    other = boot(host)
    # A valid signature of another id does not open this one.
    response = fetch(
        host, "/openstack/latest/meta_data.json", server_id, signature=sign(other, SECRET)
    )
    assert response.status_int == 403


def test_unknown_instance_is_404(host):
    assert fetch(host, "/openstack/latest/meta_data.json", "no-such-instance").status_int == 404


def test_empty_secret_refuses_everything(make_host):
    host = make_host(metadata__shared_secret="")
    server_id = boot(host)
    response = fetch(
        host, "/openstack/latest/meta_data.json", server_id, signature=sign(server_id, "")
    )
    assert response.status_int == 403


def test_read_only(host):
    server_id = boot(host)
    assert (
        fetch(host, "/openstack/latest/meta_data.json", server_id, method="POST").status_int == 405
    )
