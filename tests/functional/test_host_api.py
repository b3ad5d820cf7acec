"""The host's own surface: discovery, negotiation, faults, auth, legacy, limits."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.conftest import Client, fault

ROUTES_DOC = pathlib.Path(__file__).parents[2] / "doc" / "source" / "reference" / "routes.txt"


def test_every_route_served_is_documented(host):
    documented = [
        tuple(line.split(None, 1))
        for line in ROUTES_DOC.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(host.compute.route_table()) == sorted(documented)


@pytest.mark.parametrize("path", ["/", "/v2.1/", "/v2.1", "/v2/"])
def test_discovery_needs_no_token(host, path):
    response = Client(host.api, token=None).get(path)
    assert response.status_int == 200
    assert response.content_type == "application/json"


def test_version_documents(host):
    anonymous = Client(host.api, token=None)
    versions = anonymous.get("/").json["versions"]
    assert [(v["id"], v["status"]) for v in versions] == [
        ("v2.0", "DEPRECATED"),
        ("v2.1", "CURRENT"),
    ]
    v21 = versions[1]
    assert (v21["min_version"], v21["version"]) == ("2.1", "2.92")
    assert v21["links"] == [{"rel": "self", "href": "http://localhost/v2.1/"}]
    doc = anonymous.get("/v2.1/").json["version"]
    assert doc["id"] == "v2.1" and doc["version"] == "2.92"
    assert {"rel": "self", "href": "http://localhost/v2.1/"} in doc["links"]


def test_discovery_reports_the_configured_maximum(make_host):
    host = make_host(api__max_microversion="2.60")
    assert Client(host.api, None).get("/v2.1/").json["version"]["version"] == "2.60"
    response = Client(host.api).get("/v2.1/os-keypairs", version="2.61")
    assert response.status_int == 406
    assert (
        fault(response)[2]
        == "Version 2.61 is not supported by the API. Minimum is 2.1 and maximum is 2.60."
    )


def test_discovery_honours_proxy_headers(make_host):
    host = make_host(oslo_middleware__enable_proxy_headers_parsing=True)
    response = Client(host.api, None).get(
        "/v2.1/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "cloud.example"}
    )
    assert response.json["version"]["links"][0]["href"] == "https://cloud.example/v2.1/"


@pytest.mark.parametrize(
    ("headers", "echo"),
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.35"}, "2.35"),
        ({"X-OpenStack-Nova-API-Version": "2.10"}, "2.10"),
        ({"OpenStack-API-Version": "compute latest"}, "2.92"),
    ],
)
def test_microversion_is_echoed_with_vary(client, headers, echo):
    response = client.get("/v2.1/os-keypairs", headers=headers)
    assert response.status_int == 200
    assert response.headers["OpenStack-API-Version"] == f"compute {echo}"
    assert response.headers["X-OpenStack-Nova-API-Version"] == echo
    assert response.headers["Vary"] == "OpenStack-API-Version, X-OpenStack-Nova-API-Version"


def test_malformed_version_is_400(client):
    response = client.get("/v2.1/os-keypairs", headers={"OpenStack-API-Version": "compute 2.x"})
    assert fault(response) == (
        "badRequest",
        400,
        "API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum.",
    )


@pytest.mark.parametrize("version", ["2.0", "2.93", "3.1"])
def test_version_out_of_range_is_406(client, version):
    response = client.get("/v2.1/os-keypairs", version=version)
    name, code, message = fault(response)
    assert code == 406 and message.startswith(f"Version {version} is not supported by the API.")


def test_unknown_route_is_a_404_fault(client):
    assert fault(client.get("/v2.1/os-nothing")) == (
        "itemNotFound",
        404,
        "The resource could not be found.",
    )
    assert fault(client.get("/nowhere"))[1] == 404


def test_wrong_method_is_a_405_fault_with_allow(client):
    response = client.request("PUT", "/v2.1/os-keypairs")
    assert fault(response)[:2] == ("badMethod", 405)
    assert response.headers["Allow"] == "GET, POST"
    assert fault(client.request("PATCH", "/v2.1/servers/abc"))[1] == 405


def test_request_id_header(client):
    response = client.get("/v2.1/os-keypairs")
    assert response.headers["x-openstack-request-id"].startswith("req-")
    assert (
        client.get("/v2.1/os-keypairs").headers["x-openstack-request-id"]
        != response.headers["x-openstack-request-id"]
    )


def test_body_over_the_limit_is_413(client):
    big = {"keypair": {"name": "k", "public_key": "x" * 114689}}
    response = client.post("/v2.1/os-keypairs", big)
    assert fault(response) == ("overLimit", 413, "Request is too large.")


def test_chunked_body_over_the_limit_is_413(host):
    import webob

    request = webob.Request.blank("/v2.1/os-keypairs", method="POST")
    request.headers["X-Auth-Token"] = "user1:project1"
    request.content_type = "application/json"
    payload = json.dumps({"keypair": {"name": "k", "public_key": "x" * 200000}}).encode()
    request.body_file = __import__("io").BytesIO(payload)
    request.headers.pop("Content-Length", None)
    request.environ.pop("CONTENT_LENGTH", None)
    request.headers["Transfer-Encoding"] = "chunked"
    request.is_body_readable = True
    response = request.get_response(host.api)
    assert fault(response)[:2] == ("overLimit", 413)


def test_limit_follows_configuration(make_host):
    client = Client(make_host(api__max_request_body_size=100).api)
    response = client.post("/v2.1/os-keypairs", {"keypair": {"name": "k" * 120}})
    assert fault(response)[1] == 413


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"\xff\xfe{", "not valid UTF-8"),
        (b"{not json", "Malformed request body"),
        (b"[" * 50000 + b"]" * 50000, "Malformed request body"),
    ],
)
def test_malformed_bodies_are_400(client, raw, needle):
    response = client.post("/v2.1/os-keypairs", raw=raw)
    name, code, message = fault(response)
    assert (name, code) == ("badRequest", 400) and needle in message


def test_xml_body_is_refused_on_v21(client):
    response = client.post(
        "/v2.1/os-keypairs",
        raw=b"<keypair><name>k</name></keypair>",
        content_type="application/xml",
    )
    assert fault(response)[:2] == ("badMediaType", 415)


def test_noauth2_handshake(host):
    response = Client(host.api, token=None).get(
        "/v2.1/os-keypairs", headers={"X-Auth-User": "alice", "X-Auth-Project-Id": "proj"}
    )
    assert response.status_int == 204
    assert response.headers["X-Auth-Token"] == "alice:proj"
    assert response.headers["X-Server-Management-Url"] == "http://localhost/v2.1/os-keypairs"


def test_project_in_url_must_match_the_token(client):
    response = client.get("/v2.1/someone-else/os-keypairs")
    assert fault(response) == (
        "badRequest",
        400,
        "Malformed request URL: URL's project_id 'someone-else' doesn't match "
        "Context's project_id 'project1'",
    )
    assert client.get("/v2.1/project1/os-keypairs").status_int == 200


def test_keystone_strategy_without_token_is_a_401_fault(make_host):
    host = make_host(
        api__auth_strategy="keystone",
        keystone_authtoken__www_authenticate_uri="http://127.0.0.1:5000/v3",
    )
    anonymous = Client(host.api, token=None)
    assert anonymous.get("/v2.1/").status_int == 200
    response = anonymous.get("/v2.1/os-keypairs")
    assert fault(response) == (
        "unauthorized",
        401,
        "The request you have made requires authentication.",
    )
    assert response.headers["WWW-Authenticate"] == 'Keystone uri="http://127.0.0.1:5000/v3"'


class TestExtensionsResource:
    RECORD = {
        "name": "Keypairs",
        "alias": "os-keypairs",
        "namespace": "http://docs.openstack.org/ext/keypairs/api/v1.1",
        "updated": "2011-08-08T00:00:00+00:00",
        "description": "Keypair Support",
        "links": [],
    }

    @pytest.mark.parametrize(
        "prefix", ["/v2.1", "/v2.1/project1", "/v2/project1", "/v1.1/project1"]
    )
    def test_list_and_show(self, client, prefix):
        assert client.get(f"{prefix}/extensions").json == {"extensions": [self.RECORD]}
        assert client.get(f"{prefix}/extensions/os-keypairs").json == {"extension": self.RECORD}

    def test_unknown_alias_is_404(self, client):
        assert fault(client.get("/v2.1/extensions/os-nothing")) == (
            "itemNotFound",
            404,
            "Extension os-nothing could not be found.",
        )

    def test_disabled_extension_is_absent(self, make_host):
        client = Client(make_host(api__enabled_extensions=[]).api)
        assert client.get("/v2.1/extensions").json == {"extensions": []}
        assert fault(client.get("/v2.1/os-keypairs"))[1] == 404

    def test_xml_on_legacy_endpoints(self, client):
        import defusedxml.ElementTree as ET

        response = client.get("/v1.1/project1/extensions", headers={"Accept": "application/xml"})
        assert response.status_int == 200 and response.content_type == "application/xml"
        root = ET.fromstring(response.body)
        ns = "{http://docs.openstack.org/common/api/v1.0}"
        assert root.tag == f"{ns}extensions"
        (extension,) = root
        assert extension.tag == f"{ns}extension"
        assert extension.attrib == {
            "name": "Keypairs",
            "namespace": "http://docs.openstack.org/ext/keypairs/api/v1.1",
            "alias": "os-keypairs",
            "updated": "2011-08-08T00:00:00+00:00",
        }
        assert extension.find(f"{ns}description").text == "Keypair Support"

    def test_json_stays_the_default_on_legacy(self, client):
        response = client.get(
            "/v2/project1/extensions",
            headers={"Accept": "application/json;q=0.9, application/xml;q=0.5"},
        )
        assert response.content_type == "application/json"

    def test_v21_never_answers_xml(self, client):
        response = client.get("/v2.1/extensions", headers={"Accept": "application/xml"})
        assert response.content_type == "application/json"


class TestHostileXml:
    URL = "/v2/project1/os-keypairs"

    def _post(self, client, raw):
        return client.post(self.URL, raw=raw, content_type="application/xml")

    def test_entity_expansion_is_refused(self, client):
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b"<keypair><name>&lol2;</name></keypair>"
        )
        name, code, message = fault(self._post(client, bomb))
        assert code == 400 and "DTD, entities or external references" in message
        assert client.get(self.URL).json == {"keypairs": []}

    def test_external_entity_is_refused(self, client):
        xxe = (
            b'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<keypair><name>&x;</name></keypair>"
        )
        response = self._post(client, xxe)
        assert fault(response)[1] == 400
        assert b"root:" not in response.body

    def test_deep_nesting_is_refused(self, client):
        deep = b"<keypair>" + b"<a>" * 200 + b"x" + b"</a>" * 200 + b"</keypair>"
        assert (
            fault(self._post(client, deep))[2] == "Malformed request body: XML nested too deeply."
        )

    def test_oversized_document_is_413(self, client):
        big = b"<keypair><name>" + b"k" * 120000 + b"</name></keypair>"
        assert fault(self._post(client, big))[1] == 413

    def test_malformed_xml_is_400(self, client):
        assert fault(self._post(client, b"<keypair><name>k</keypair>"))[1] == 400
