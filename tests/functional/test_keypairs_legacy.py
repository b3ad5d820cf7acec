"""The legacy endpoints: /v2/{project} and /v1.1/{project}, JSON and XML.

They behave as 2.0: relaxed validation (names stripped, unknown properties
tolerated), create 200, delete 202, no ``type``, no microversions; XML and
JSON by content negotiation; and the seed document's own paths
``GET /v1.1/{tenant}/os_keypairs`` and ``POST /v1.1/{tenant}/os_keypairs/keypair``.
"""

from __future__ import annotations

from xml.etree import ElementTree

import defusedxml.ElementTree
import pytest

from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI, expect_fault, md5_fingerprint

shared_host = helpers.shared_host
api = helpers.api


ROOTS = ["/v2", "/v1.1"]
NS = "{http://docs.openstack.org/compute/api/v1.1}"
XML = "application/xml"


@pytest.fixture(params=ROOTS)
def legacy(api: KeypairsAPI, request: pytest.FixtureRequest) -> KeypairsAPI:
    return api.legacy(request.param)


def test_lifecycle(legacy: KeypairsAPI) -> None:
    public_key = helpers.ed25519_line("legacy")
    created = legacy.create("kp", public_key)  # 200, the 2.1 body: no type
    assert created == {
        "name": "kp",
        "public_key": public_key,
        "fingerprint": md5_fingerprint(public_key),
        "user_id": legacy.user,
    }
    assert legacy.list() == {
        "keypairs": [
            {
                "keypair": {
                    "name": "kp",
                    "public_key": public_key,
                    "fingerprint": created["fingerprint"],
                }
            }
        ]
    }
    assert "type" not in legacy.show("kp")
    legacy.delete("kp")  # 202
    assert legacy.names() == []


def test_generate(legacy: KeypairsAPI) -> None:
    created = legacy.generate("kp")
    assert created["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_names_are_stripped(legacy: KeypairsAPI) -> None:
    assert legacy.create("  padded name \t")["name"] == "padded name"
    assert legacy.names() == ["padded name"]


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Keypair name must be string and between 1 and 255 characters long"),
        ("   ", "Keypair name must be string and between 1 and 255 characters long"),
        ("k" * 256, "Keypair name must be string and between 1 and 255 characters long"),
        ("caf\u00e9", "Keypair name contains unsafe characters"),
        ("a@b", "Keypair name contains unsafe characters"),
        ("a.b", "Keypair name contains unsafe characters"),
    ],
)
def test_invalid_names(legacy: KeypairsAPI, name: str, message: str) -> None:
    response = legacy.post({"name": name, "public_key": helpers.ed25519_line()})
    expect_fault(response, 400, message)
    assert legacy.names() == []


def test_unknown_properties_are_tolerated(legacy: KeypairsAPI) -> None:
    other = helpers.unique("other")
    body = {
        "keypair": {
            "name": "kp",
            "public_key": helpers.ed25519_line(),
            "type": "x509",
            "user_id": other,
            "extra": 1,
        },
        "extra": {},
    }
    created = legacy.check("create_keypair", legacy.request("POST", body=body))["keypair"]
    # type and user_id are 2.2 and 2.10 features: ignored here
    assert created["user_id"] == legacy.user
    assert legacy.names() == ["kp"]


def test_microversion_headers_are_ignored(legacy: KeypairsAPI) -> None:
    headers = {"OpenStack-API-Version": "compute 2.92"}
    response = legacy.request("POST", headers=headers, body={"keypair": {"name": "kp"}})
    created = legacy.check("create_keypair", response)["keypair"]
    assert "type" not in created and created["private_key"]
    assert "OpenStack-API-Version" not in response.headers
    listed = legacy.request("GET", query={"limit": "1"}, headers=headers)
    assert "keypairs_links" not in legacy.check("list_keypairs", listed)


def test_user_id_query_is_ignored(legacy: KeypairsAPI) -> None:
    other = legacy.as_user(helpers.unique("other"))
    other.create("theirs")
    assert legacy.names({"user_id": other.user}) == []


def test_project_must_match_the_token(legacy: KeypairsAPI) -> None:
    elsewhere = legacy.as_user(legacy.user, "another-project")
    response = legacy.request("GET", path=elsewhere.path())
    expect_fault(response, 400, "doesn't match Context's project_id")


# --- XML ---------------------------------------------------------------------------------


def xml_fields(element: ElementTree.Element) -> dict[str, str]:
    return {child.tag.removeprefix(NS): child.text or "" for child in element}


def parse_xml(response) -> ElementTree.Element:
    assert response.content_type == XML, response.headers
    return defusedxml.ElementTree.fromstring(response.body)


def keypair_xml(name: str, public_key: str | None = None) -> bytes:
    root = ElementTree.Element("keypair")
    ElementTree.SubElement(root, "name").text = name
    if public_key is not None:
        ElementTree.SubElement(root, "public_key").text = public_key
    return ElementTree.tostring(root)


def test_xml_create_list_show_delete(legacy: KeypairsAPI) -> None:
    public_key = helpers.ed25519_line()
    accept = {"Accept": XML}
    response = legacy.request(
        "POST", raw=keypair_xml(" kp ", public_key), content_type=XML, headers=accept
    )
    assert response.status_int == 200, response.body
    created = parse_xml(response)
    assert created.tag == f"{NS}keypair"
    assert xml_fields(created) == {
        "name": "kp",
        "public_key": public_key,
        "fingerprint": md5_fingerprint(public_key),
        "user_id": legacy.user,
    }

    listed = parse_xml(legacy.request("GET", headers=accept))
    assert listed.tag == f"{NS}keypairs"
    assert [(e.tag, xml_fields(e)) for e in listed] == [
        (
            f"{NS}keypair",
            {"name": "kp", "public_key": public_key, "fingerprint": md5_fingerprint(public_key)},
        )
    ]

    shown = xml_fields(parse_xml(legacy.request("GET", "kp", headers=accept)))
    assert shown["deleted"] == "false" and shown["user_id"] == legacy.user
    assert legacy.request("DELETE", "kp", headers=accept).status_int == 202
    assert list(parse_xml(legacy.request("GET", headers=accept))) == []


def test_xml_generate(legacy: KeypairsAPI) -> None:
    response = legacy.request(
        "POST", raw=b'<keypair name="kp"/>', content_type=XML, headers={"Accept": XML}
    )
    fields = xml_fields(parse_xml(response))
    assert fields["name"] == "kp"
    assert fields["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_xml_request_json_response(legacy: KeypairsAPI) -> None:
    response = legacy.request(
        "POST", raw=keypair_xml("kp", helpers.ed25519_line()), content_type=XML
    )
    assert legacy.check("create_keypair", response)["keypair"]["name"] == "kp"


def test_xml_fault(legacy: KeypairsAPI) -> None:
    response = legacy.request("GET", "nope", headers={"Accept": XML})
    assert response.status_int == 404
    fault = parse_xml(response)
    assert fault.tag == f"{NS}itemNotFound"
    assert "Keypair nope not found" in xml_fields(fault)["message"]


def test_xml_malformed_key_is_a_400(legacy: KeypairsAPI) -> None:
    response = legacy.request("POST", raw=keypair_xml("kp", "ssh-rsa AAAA"), content_type=XML)
    expect_fault(response, 400, "Keypair data is invalid")
    assert legacy.names() == []


# --- the seed's paths ---------------------------------------------------------------------


def test_seed_paths(api: KeypairsAPI) -> None:
    seed = api.legacy("/v1.1")
    public_key = helpers.ed25519_line()
    response = seed.request(
        "POST",
        path=seed.root + "/os_keypairs/keypair",
        body={"keypair": {"name": "seed", "public_key": public_key}},
    )
    created = seed.check("create_keypair", response)["keypair"]
    assert created["fingerprint"] == md5_fingerprint(public_key)
    listed = seed.check("list_keypairs", seed.request("GET", path=seed.root + "/os_keypairs"))
    assert [e["keypair"]["name"] for e in listed["keypairs"]] == ["seed"]
    xml = parse_xml(seed.request("GET", path=seed.root + "/os_keypairs", headers={"Accept": XML}))
    assert [xml_fields(e)["name"] for e in xml] == ["seed"]


@pytest.mark.parametrize("root", ["/v2.1", "/v2.1/{project}"])
def test_seed_paths_are_legacy_only(api: KeypairsAPI, root: str) -> None:
    prefix = root.format(project=api.project)
    expect_fault(api.request("GET", path=prefix + "/os_keypairs"), 404)
    expect_fault(
        api.request("POST", path=prefix + "/os_keypairs/keypair", body={"keypair": {"name": "kp"}}),
        404,
    )
