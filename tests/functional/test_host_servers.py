"""Servers on the reference host: records that go ACTIVE at once."""

from __future__ import annotations

import pytest

from tests.conftest import Client, fault

SERVER = {
    "server": {
        "name": "web-1",
        "imageRef": "image-1",
        "flavorRef": "1",
        "metadata": {"role": "web"},
    }
}


def create(client, body=SERVER, **kw):
    response = client.post("/v2.1/servers", body, **kw)
    assert response.status_int == 202, response.body
    return response


def test_create_show_list_delete(client):
    response = create(client)
    created = response.json["server"]
    server_id = created["id"]
    assert response.headers["Location"] == f"http://localhost/v2.1/servers/{server_id}"
    assert created["links"][0] == {
        "rel": "self",
        "href": f"http://localhost/v2.1/servers/{server_id}",
    }
    assert created["adminPass"]

    shown = client.get(f"/v2.1/servers/{server_id}").json["server"]
    assert shown["status"] == "ACTIVE"
    assert (shown["name"], shown["tenant_id"], shown["user_id"]) == ("web-1", "project1", "user1")
    assert shown["image"]["id"] == "image-1" and shown["flavor"]["id"] == "1"
    assert shown["metadata"] == {"role": "web"}
    assert shown["key_name"] is None

    listed = client.get("/v2.1/servers").json["servers"]
    assert [s["id"] for s in listed] == [server_id]
    assert set(listed[0]) == {"id", "name", "links"}
    assert client.get("/v2.1/servers/detail").json["servers"][0]["id"] == server_id

    assert client.delete(f"/v2.1/servers/{server_id}").status_int == 204
    assert fault(client.get(f"/v2.1/servers/{server_id}"))[:2] == ("itemNotFound", 404)


def test_servers_are_per_project(host):
    mine = Client(host.api, "user1:project1")
    theirs = Client(host.api, "user2:project2")
    server_id = create(mine).json["server"]["id"]
    assert fault(theirs.get(f"/v2.1/servers/{server_id}"))[1] == 404
    assert fault(theirs.delete(f"/v2.1/servers/{server_id}"))[1] == 404
    assert theirs.get("/v2.1/servers").json == {"servers": []}
    admin = Client(host.api, "admin:adminproject")
    assert admin.get(f"/v2.1/servers/{server_id}").status_int == 200
    assert [s["id"] for s in admin.get("/v2.1/servers?all_tenants=1").json["servers"]] == [
        server_id
    ]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"server": {"name": "x"}}, "'flavorRef' is a required property"),
        ({"server": {"flavorRef": "1"}}, "'name' is a required property"),
        (
            {"server": {"name": "", "flavorRef": "1"}},
            "Invalid input for field/attribute server/name",
        ),
        ({"server": {"name": "x", "flavorRef": "1", "bogus": 1}}, "('bogus' was unexpected)"),
        ({"server": {"name": "x", "flavorRef": "1"}, "extra": 1}, "('extra' was unexpected)"),
        (
            {"server": {"name": "x", "flavorRef": "1", "metadata": {"k": "v" * 256}}},
            "server/metadata/k",
        ),
        ({}, "'server' is a required property"),
    ],
)
def test_create_validation(client, body, needle):
    name, code, message = fault(client.post("/v2.1/servers", body))
    assert code == 400 and needle in message


def test_legacy_create_tolerates_unknown_properties_and_strips_names(client):
    body = {"server": {"name": "  old  ", "flavorRef": "1", "imageRef": "i", "whatever": True}}
    response = client.post("/v2/project1/servers", body)
    assert response.status_int == 202
    shown = client.get(f"/v2/project1/servers/{response.json['server']['id']}").json["server"]
    assert shown["name"] == "old"


def test_rebuild(client):
    server_id = create(client).json["server"]["id"]
    response = client.post(
        f"/v2.1/servers/{server_id}/action",
        {"rebuild": {"imageRef": "image-2", "name": "web-2", "metadata": {}}},
    )
    assert response.status_int == 202
    rebuilt = response.json["server"]
    assert (rebuilt["image"]["id"], rebuilt["name"], rebuilt["metadata"]) == (
        "image-2",
        "web-2",
        {},
    )
    assert "adminPass" in rebuilt
    assert client.get(f"/v2.1/servers/{server_id}").json["server"]["name"] == "web-2"
    later = client.post(
        f"/v2.1/servers/{server_id}/action", {"rebuild": {"imageRef": "i3"}}, version="2.47"
    )
    assert "adminPass" not in later.json["server"]


def test_unknown_action_and_bad_rebuild(client):
    server_id = create(client).json["server"]["id"]
    assert fault(
        client.post(f"/v2.1/servers/{server_id}/action", {"reboot": {"type": "HARD"}})
    ) == ("badRequest", 400, "There is no such action: reboot")
    assert fault(client.post(f"/v2.1/servers/{server_id}/action", {"rebuild": {}}))[2] == (
        "'imageRef' is a required property"
    )
    assert fault(client.post("/v2.1/servers/nope/action", {"rebuild": {"imageRef": "i"}}))[1] == 404


def test_hooks_run_in_order_and_contributions_are_private(make_host):
    # The keypairs extension's contribution is stored under its own alias.
    host = make_host()
    client = Client(host.api)
    server_id = create(client).json["server"]["id"]
    from keypairs_ext.host.context import RequestContext
    from keypairs_ext.host.db.models import Instance

    with host.database.reader.using(RequestContext()) as session:
        instance = session.get(Instance, server_id)
        assert instance.extension_data == {"os-keypairs": {}}


def test_legacy_xml_server_views_are_well_formed(client):
    import defusedxml.ElementTree as ET

    body = {
        "server": {
            "name": "x\x01y",
            "flavorRef": "1",
            "imageRef": "i",
            "metadata": {"my key": "v", "a:b": "w"},
        }
    }
    server_id = client.post("/v2/project1/servers", body).json["server"]["id"]
    response = client.get(
        f"/v2/project1/servers/{server_id}", headers={"Accept": "application/xml"}
    )
    assert response.status_int == 200 and response.content_type == "application/xml"
    root = ET.fromstring(response.body)
    ns = "{http://docs.openstack.org/compute/api/v1.1}"
    metas = {m.get("key"): m.text for m in root.iter(f"{ns}meta")}
    assert metas["my key"] == "v" and metas["a:b"] == "w"
    assert metas["OS-DCF:diskConfig"] == "MANUAL"
    assert root.find(f"{ns}name").text == "x\ufffdy"
