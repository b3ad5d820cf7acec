"""Servers with key_name, and the key in the instance metadata (SPEC §4).

The server-create hook resolves ``key_name`` among the caller's keypairs and
the instance keeps a snapshot of the key; the metadata service (signed
``X-Instance-ID``) renders it where cloud-init looks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import webob

from keypairs_ext.host.metadata import sign
from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI, expect_fault

shared_host = helpers.shared_host
api = helpers.api


SECRET = "metadata-secret"  # what conftest and keypairs_helpers configure


class Servers:
    """Servers of the same user as ``api``, and their metadata."""

    def __init__(self, api: KeypairsAPI, host: Any) -> None:
        self.api = api
        self.host = host

    def post(self, path: str, body: Any, version: str | None = None) -> webob.Response:
        api = self.api.at(version) if version else self.api
        return api.request("POST", path=api.root + path, body=body)

    def create(self, key_name: str | None = None, version: str | None = None) -> str:
        server: dict[str, Any] = {"name": "vm", "imageRef": "image", "flavorRef": "1"}
        if key_name is not None:
            server["key_name"] = key_name
        response = self.post("/servers", {"server": server}, version)
        assert response.status_int == 202, response.body
        return response.json["server"]["id"]

    def get(self, path: str) -> Any:
        response = self.api.request("GET", path=self.api.root + path)
        assert response.status_int == 200, response.body
        return response.json

    def show(self, server_id: str) -> dict:
        return self.get(f"/servers/{server_id}")["server"]

    def rebuild(self, server_id: str, version: str, **fields: Any) -> webob.Response:
        body = {"rebuild": {"imageRef": "image-2", **fields}}
        return self.post(f"/servers/{server_id}/action", body, version)

    def metadata(self, server_id: str, path: str) -> webob.Response:
        """GET ``path`` from the metadata service, as the instance's proxy."""
        request = webob.Request.blank(path)
        request.headers["X-Instance-ID"] = server_id
        request.headers["X-Instance-ID-Signature"] = sign(server_id, SECRET)
        return request.get_response(self.host.metadata)

    def meta_data(self, server_id: str) -> dict:
        response = self.metadata(server_id, "/openstack/latest/meta_data.json")
        assert response.status_int == 200, response.body
        return json.loads(response.text)


@pytest.fixture
def servers(api: KeypairsAPI, shared_host: Any) -> Servers:
    return Servers(api.at("2.2"), shared_host)


def test_key_name_on_create_shows_in_server_views(api: KeypairsAPI, servers: Servers) -> None:
    api.create("kp")
    with_key = servers.create("kp")
    without_key = servers.create()
    assert servers.show(with_key)["key_name"] == "kp"
    assert servers.show(without_key)["key_name"] is None
    detail = {s["id"]: s["key_name"] for s in servers.get("/servers/detail")["servers"]}
    assert detail == {with_key: "kp", without_key: None}


def test_servers_filter_by_key_name(api: KeypairsAPI, servers: Servers) -> None:
    api.create("one")
    api.create("two")
    first, second, _ = servers.create("one"), servers.create("two"), servers.create()
    assert [s["id"] for s in servers.get("/servers?key_name=one")["servers"]] == [first]
    detail = servers.get("/servers/detail?key_name=two")["servers"]
    assert [(s["id"], s["key_name"]) for s in detail] == [(second, "two")]
    assert servers.get("/servers?key_name=none")["servers"] == []


@pytest.mark.parametrize("version", ["2.1", "2.54", "2.92"])
def test_unknown_key_name_is_a_400(servers: Servers, version: str) -> None:
    body = {"server": {"name": "vm", "flavorRef": "1", "key_name": "nope"}}
    expect_fault(servers.post("/servers", body, version), 400, "Invalid key_name provided.")
    assert servers.get("/servers")["servers"] == []


def test_another_users_key_name_is_a_400(api: KeypairsAPI, servers: Servers) -> None:
    other = api.as_user(helpers.unique("other"))
    other.create("theirs")
    body = {"server": {"name": "vm", "flavorRef": "1", "key_name": "theirs"}}
    expect_fault(servers.post("/servers", body), 400, "Invalid key_name provided.")


@pytest.mark.parametrize("key_name", ["", 5, None])
def test_malformed_key_name_is_a_400(servers: Servers, key_name: Any) -> None:
    body = {"server": {"name": "vm", "flavorRef": "1", "key_name": key_name}}
    expect_fault(servers.post("/servers", body), 400, "key_name")


def test_metadata_carries_the_key(api: KeypairsAPI, servers: Servers) -> None:
    public_key = helpers.ed25519_line("me@laptop")
    api.create("kp", public_key)
    server_id = servers.create("kp")
    document = servers.meta_data(server_id)
    assert document["uuid"] == server_id
    assert document["public_keys"] == {"kp": public_key}
    assert document["keys"] == [{"name": "kp", "type": "ssh", "data": public_key}]
    ec2 = "/latest/meta-data/public-keys"
    assert servers.metadata(server_id, ec2 + "/").text == "0=kp"
    assert servers.metadata(server_id, ec2 + "/0/").text == "openssh-key"
    assert servers.metadata(server_id, ec2 + "/0/openssh-key").text == public_key


def test_metadata_without_a_key(api: KeypairsAPI, servers: Servers) -> None:
    server_id = servers.create()
    document = servers.meta_data(server_id)
    assert "public_keys" not in document and "keys" not in document
    response = servers.metadata(server_id, "/latest/meta-data/public-keys/")
    expect_fault(response, 404, "is not available for this instance")


def test_x509_keypair_in_metadata(api: KeypairsAPI, servers: Servers) -> None:
    certificate = helpers.x509_certificate()
    api.at("2.2").create("cert", certificate, type="x509")
    server_id = servers.create("cert")
    keys = servers.meta_data(server_id)["keys"]
    assert keys == [{"name": "cert", "type": "x509", "data": certificate}]


def test_deleting_the_keypair_leaves_the_instance_unchanged(
    api: KeypairsAPI, servers: Servers
) -> None:
    public_key = helpers.ed25519_line()
    api.create("kp", public_key)
    server_id = servers.create("kp")
    before = servers.meta_data(server_id)
    api.delete("kp")
    assert servers.show(server_id)["key_name"] == "kp"
    assert servers.meta_data(server_id) == before
    assert before["public_keys"] == {"kp": public_key}
    # and a new keypair of the same name does not leak into the old instance
    api.create("kp")
    assert servers.meta_data(server_id) == before


def test_rebuild_replaces_or_clears_the_key_from_2_54(api: KeypairsAPI, servers: Servers) -> None:
    old, new = helpers.ed25519_line(), helpers.ed25519_line()
    api.create("old", old)
    api.create("new", new)
    server_id = servers.create("old")

    response = servers.rebuild(server_id, "2.54", key_name="new")
    assert response.status_int == 202, response.body
    assert response.json["server"]["key_name"] == "new"
    assert servers.show(server_id)["key_name"] == "new"
    assert servers.meta_data(server_id)["public_keys"] == {"new": new}

    assert servers.rebuild(server_id, "2.54", name="same-key").status_int == 202
    assert servers.show(server_id)["key_name"] == "new"

    assert servers.rebuild(server_id, "2.54", key_name=None).status_int == 202
    assert servers.show(server_id)["key_name"] is None
    assert "public_keys" not in servers.meta_data(server_id)


def test_rebuild_with_an_unknown_key_name_changes_nothing(
    api: KeypairsAPI, servers: Servers
) -> None:
    api.create("kp")
    server_id = servers.create("kp")
    expect_fault(
        servers.rebuild(server_id, "2.54", key_name="nope"), 400, "Invalid key_name provided."
    )
    assert servers.show(server_id)["key_name"] == "kp"
    assert "kp" in servers.meta_data(server_id)["public_keys"]


@pytest.mark.parametrize("version", ["2.1", "2.53"])
def test_rebuild_key_name_is_unknown_before_2_54(
    api: KeypairsAPI, servers: Servers, version: str
) -> None:
    api.create("kp")
    server_id = servers.create()
    expect_fault(
        servers.rebuild(server_id, version, key_name="kp"),
        400,
        "Additional properties are not allowed ('key_name' was unexpected)",
    )
    assert servers.show(server_id)["key_name"] is None


def test_server_metadata_does_not_get_the_key(api: KeypairsAPI, servers: Servers) -> None:
    api.create("kp")
    server_id = servers.create("kp")
    assert servers.show(server_id)["metadata"] == {}
    assert servers.meta_data(server_id)["meta"] == {}


def test_extension_record(api: KeypairsAPI) -> None:
    response = api.request("GET", path="/v2.1/extensions/os-keypairs")
    assert response.json == {
        "extension": {
            "name": "Keypairs",
            "alias": "os-keypairs",
            "namespace": "http://docs.openstack.org/ext/keypairs/api/v1.1",
            "updated": "2011-08-08T00:00:00+00:00",
            "description": "Keypair Support",
            "links": [],
        }
    }
    listed = api.request("GET", path="/v2.1/extensions").json["extensions"]
    assert response.json["extension"] in listed


class TestDisabled:
    """With ``[api] enabled_extensions = []`` os-keypairs is absent."""

    @pytest.fixture
    def disabled(self, make_host) -> KeypairsAPI:
        return KeypairsAPI(make_host(api__enabled_extensions=[]).api)

    def test_routes_are_404(self, disabled: KeypairsAPI) -> None:
        for api in (disabled, disabled.with_project_in_path(), disabled.legacy()):
            expect_fault(api.request("GET"), 404, "The resource could not be found.")
            expect_fault(api.request("POST", body={"keypair": {"name": "kp"}}), 404)
            expect_fault(api.request("GET", "kp"), 404)
            expect_fault(api.request("DELETE", "kp"), 404)
        seed = disabled.legacy("/v1.1")
        expect_fault(seed.request("GET", path=seed.root + "/os_keypairs"), 404)

    def test_extensions_do_not_list_it(self, disabled: KeypairsAPI) -> None:
        listed = disabled.request("GET", path="/v2.1/extensions").json["extensions"]
        assert "os-keypairs" not in [e["alias"] for e in listed]
        expect_fault(disabled.request("GET", path="/v2.1/extensions/os-keypairs"), 404)

    @pytest.mark.parametrize("version", ["2.1", "2.92"])
    def test_key_name_on_server_create_names_the_extension(
        self, disabled: KeypairsAPI, version: str
    ) -> None:
        body = {"server": {"name": "vm", "flavorRef": "1", "key_name": "kp"}}
        response = disabled.at(version).request("POST", path="/v2.1/servers", body=body)
        message = expect_fault(response, 400, "os-keypairs")
        assert "key_name" in message and "not enabled" in message

    def test_server_views_have_no_key_name(self, disabled: KeypairsAPI) -> None:
        body = {"server": {"name": "vm", "flavorRef": "1"}}
        created = disabled.request("POST", path="/v2.1/servers", body=body)
        server_id = created.json["server"]["id"]
        shown = disabled.request("GET", path=f"/v2.1/servers/{server_id}").json["server"]
        assert "key_name" not in shown
