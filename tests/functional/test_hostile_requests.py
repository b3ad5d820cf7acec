"""Regressions of what the OpenAPI work found (doc/source/_static/openapi.yaml).

schemathesis, run over that document (tests/functional/test_openapi.py, and
once by hand against PostgreSQL), and the probes that followed its leads
found requests answered with a 500 or with no response at all.  Each test
pins one of them to its status and message, on every backend the suite
runs (several were PostgreSQL-only: it refuses NUL in text and values too
long for a column, where SQLite stores them).
"""

from __future__ import annotations

import pytest
import webob

from tests.conftest import Client, fault

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAL327/Y0kiGn/59+Wd9IjFp9HvNwUMslPiQeF8rrNi test"
NOT_UTF8 = "Malformed request URL: the path is not valid UTF-8."
UNSTORABLE = "Text may not contain NUL characters or invalid Unicode."
UNAUTHORIZED = ("unauthorized", 401, "The request you have made requires authentication.")


@pytest.fixture
def server_id(client: Client) -> str:
    created = client.post(
        "/v2.1/os-keypairs", {"keypair": {"name": "kp", "public_key": PUBLIC_KEY}}
    )
    assert created.status_int == 200, created.body
    response = client.post(
        "/v2.1/servers",
        {"server": {"name": "vm", "imageRef": "image-1", "flavorRef": "1", "key_name": "kp"}},
    )
    assert response.status_int == 202, response.body
    return response.json["server"]["id"]


def server(**fields) -> dict:
    return {"server": {"name": "vm", "flavorRef": "1", **fields}}


# --- legacy rebuild: tolerated properties reached the hooks ------------------------


@pytest.mark.parametrize("key_name", [0, True, {}, [], "nope"])
@pytest.mark.parametrize("prefix", ["/v2/project1", "/v1.1/project1"])
def test_legacy_rebuild_ignores_key_name_it_does_not_know(client, server_id, prefix, key_name):
    # Was a 500: 2.0 tolerates key_name (a 2.54 property) unvalidated, and
    # passed it on to the keypairs hook, which looked up a dict or an int.
    response = client.post(
        f"{prefix}/servers/{server_id}/action",
        {"rebuild": {"imageRef": "image-2", "key_name": key_name}},
    )
    assert response.status_int == 202, response.body
    assert response.json["server"]["key_name"] == "kp"
    assert client.get(f"/v2.1/servers/{server_id}").json["server"]["key_name"] == "kp"


def test_strict_rebuild_still_validates_key_name(client, server_id):
    response = client.post(
        f"/v2.1/servers/{server_id}/action",
        {"rebuild": {"imageRef": "image-2", "key_name": 0}},
        version="2.54",
    )
    assert fault(response) == (
        "badRequest",
        400,
        "Invalid input for field/attribute rebuild/key_name. It must be a string or null, "
        "not an integer.",
    )


# --- a path that is not UTF-8: the exception escaped the application -----------------


@pytest.mark.parametrize(
    "path",
    ["/v2.1/servers/%FF", "/v2.1/os-keypairs/a%C3", "/v2.1/%FF/os-keypairs", "/v2/%FE/servers"],
)
def test_path_that_is_not_utf8_is_a_400(client, path):
    # Was no response at all: webob's UnicodeDecodeError escaped the WSGI
    # application, even its last line of defence (which decoded the path to log it).
    assert fault(client.get(path)) == ("badRequest", 400, NOT_UTF8)


def test_metadata_path_that_is_not_utf8_is_a_400(host):
    response = webob.Request.blank("/openstack/%FF/meta_data.json").get_response(host.metadata)
    assert fault(response) == ("badRequest", 400, NOT_UTF8)


# --- text PostgreSQL cannot hold: NUL, lone surrogates -------------------------------


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_server_id_with_nul_is_not_found(client, method):
    # Was a 500 on PostgreSQL: the lookup sent the NUL to the database.
    response = client.request(method, "/v2.1/servers/a%00b")
    assert fault(response) == ("itemNotFound", 404, "Instance a\x00b could not be found.")


def test_action_on_server_id_with_nul_is_not_found(client):
    response = client.post("/v2.1/servers/a%00b/action", {"rebuild": {"imageRef": "i"}})
    assert fault(response) == ("itemNotFound", 404, "Instance a\x00b could not be found.")


@pytest.mark.parametrize("path", ["/v2.1/servers?name=a%00b", "/v2.1/servers/detail?name=a%00b"])
def test_server_name_filter_with_nul_finds_nothing(client, server_id, path):
    # Was a 500 on PostgreSQL.
    response = client.get(path)
    assert response.status_int == 200, response.body
    assert response.json == {"servers": []}


@pytest.mark.parametrize(
    ("fields", "where", "shown"),
    [
        ({"name": "a\x00b"}, "server/name", "'a\\x00b'"),
        ({"imageRef": "a\x00b"}, "server/imageRef", "'a\\x00b'"),
        ({"flavorRef": "a\x00b"}, "server/flavorRef", "'a\\x00b'"),
        ({"user_data": "a\x00b"}, "server/user_data", "'a\\x00b'"),
        ({"metadata": {"k": "a\x00b"}}, "server/metadata/k", "'a\\x00b'"),
        ({"metadata": {"a\x00b": "v"}}, "server/metadata", "'a\\x00b'"),
        ({"name": "\ud800"}, "server/name", "'\\ud800'"),
        ({"metadata": {"k": "\udc00"}}, "server/metadata/k", "'\\udc00'"),
    ],
)
def test_server_create_with_unstorable_text_is_a_400(client, fields, where, shown):
    # Was a 500: NUL on PostgreSQL, a lone surrogate (the JSON escape
    # "\ud800") on every backend's driver.
    response = client.post("/v2.1/servers", server(**fields))
    assert fault(response) == (
        "badRequest",
        400,
        f"Invalid input for field/attribute {where}. Value: {shown}. {UNSTORABLE}",
    )


@pytest.mark.parametrize(
    ("fields", "where"),
    [({"name": "a\x00b"}, "rebuild/name"), ({"imageRef": "a\x00b"}, "rebuild/imageRef")],
)
def test_rebuild_with_unstorable_text_is_a_400(client, server_id, fields, where):
    response = client.post(
        f"/v2.1/servers/{server_id}/action", {"rebuild": {"imageRef": "i", **fields}}
    )
    assert fault(response) == (
        "badRequest",
        400,
        f"Invalid input for field/attribute {where}. Value: 'a\\x00b'. {UNSTORABLE}",
    )
    assert client.get(f"/v2.1/servers/{server_id}").json["server"]["name"] == "vm"


def test_key_name_with_nul_is_still_the_extensions_message(client):
    # The host checks only the text it stores; key_name is the extension's.
    response = client.post("/v2.1/servers", server(key_name="a\x00b"))
    assert fault(response) == ("badRequest", 400, "Invalid key_name provided.")


# --- references longer than their column ---------------------------------------------


@pytest.mark.parametrize("field", ["imageRef", "flavorRef"])
def test_server_reference_longer_than_255_is_a_400(client, field):
    # Was a 500 on PostgreSQL (and MySQL): the column holds 255 characters.
    response = client.post("/v2.1/servers", server(**{field: "r" * 256}))
    name, code, message = fault(response)
    assert (name, code) == ("badRequest", 400)
    assert message == (
        f"Invalid input for field/attribute server/{field}. Value: {'r' * 20}... "
        "(256 characters). It may be at most 255 characters long."
    )


def test_server_reference_integer_beyond_64_bits_is_a_400(client):
    big = "9" * 30
    response = client.post(
        "/v2.1/servers",
        raw=b'{"server": {"name": "vm", "flavorRef": ' + big.encode() + b"}}",
    )
    assert fault(response) == (
        "badRequest",
        400,
        f"Invalid input for field/attribute server/flavorRef. Value: {big}. "
        f"{big} is greater than the maximum of 9223372036854775807",
    )


def test_rebuild_image_reference_longer_than_255_is_a_400(client, server_id):
    response = client.post(
        f"/v2.1/servers/{server_id}/action", {"rebuild": {"imageRef": "r" * 256}}
    )
    assert fault(response)[:2] == ("badRequest", 400)
    assert fault(response)[2].endswith("(256 characters). It may be at most 255 characters long.")


# --- noauth2 tokens no identity service issues -----------------------------------------


@pytest.mark.parametrize(
    "token",
    ["us\x00er:project1", "user1:pro\x01ject", "u" * 256 + ":project1", "user1:" + "p" * 256, ":"],
)
def test_noauth2_token_that_cannot_be_an_identity_is_a_401(host, token):
    # Was a 500 on PostgreSQL (NUL, or an id longer than its column) when
    # creating a keypair or a server under that identity.
    caller = Client(host.api, token)
    keypair = {"keypair": {"name": "kp", "public_key": PUBLIC_KEY}}
    assert fault(caller.post("/v2.1/os-keypairs", keypair)) == UNAUTHORIZED
    assert fault(caller.post("/v2.1/servers", server())) == UNAUTHORIZED
    assert fault(caller.get("/v2.1/os-keypairs")) == UNAUTHORIZED


def test_noauth2_token_of_255_characters_still_works(host):
    caller = Client(host.api, "u" * 255 + ":" + "p" * 255)
    assert caller.get("/v2.1/os-keypairs").status_int == 200


# --- numbers too long for int() --------------------------------------------------------


def test_limit_of_5000_digits_is_the_page_size(client):
    # Was a 500: int() refuses a string of more than 4300 digits.
    client.post("/v2.1/os-keypairs", {"keypair": {"name": "kp", "public_key": PUBLIC_KEY}})
    response = client.get("/v2.1/os-keypairs?limit=" + "9" * 5000, version="2.35")
    assert response.status_int == 200, response.body
    assert [k["keypair"]["name"] for k in response.json["keypairs"]] == ["kp"]


@pytest.mark.parametrize(
    "headers",
    [
        {"OpenStack-API-Version": "compute 2." + "9" * 5000},
        {"X-OpenStack-Nova-API-Version": "9" * 5000 + ".1"},
    ],
)
def test_microversion_of_5000_digits_is_a_406(client, headers):
    # Was a 500, for the same reason.
    requested = next(iter(headers.values())).removeprefix("compute ")
    assert fault(client.get("/v2.1/os-keypairs", headers=headers)) == (
        "computeFault",
        406,
        f"Version {requested} is not supported by the API. Minimum is 2.1 and maximum is 2.92.",
    )


# --- legacy XML -------------------------------------------------------------------------


def test_legacy_xml_declaring_an_unknown_encoding_is_a_400(client):
    # Was a 500: the XML parser raises LookupError for the encoding.
    response = client.post(
        "/v2/project1/os-keypairs",
        raw=b"<?xml version='1.0' encoding='bogus'?><keypair><name>kp</name></keypair>",
        content_type="application/xml",
    )
    assert fault(response) == ("badRequest", 400, "Malformed request body: unknown encoding: bogus")
