"""Refusals: request shape, malformed keys, hostile bodies; never a 500.

Every refusal is a compute fault with a message that says what is wrong,
and a refused create stores nothing.
"""

from __future__ import annotations

import io
import json

import pytest
import webob

from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI, expect_fault
from tests.unit.crypto.malformed_keys import build_corpus

shared_host = helpers.shared_host
api = helpers.api


MAX_BODY = 114688
UNEXPECTED = "Additional properties are not allowed ('{}' was unexpected)"


def refuse_body(api: KeypairsAPI, body: object, status: int, message: str) -> str:
    text = expect_fault(api.request("POST", body=body), status, message)
    assert api.names() == []
    return text


def refuse_raw(api: KeypairsAPI, raw: bytes, status: int, message: str, **kw) -> str:
    text = expect_fault(api.request("POST", raw=raw, **kw), status, message)
    assert api.names() == []
    return text


# --- request shape -------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.10", "2.35", "2.75", "2.92"])
def test_unknown_properties_at_every_level(api: KeypairsAPI, version: str) -> None:
    api = api.at(version)
    keypair = {"name": "kp", "public_key": helpers.ed25519_line()}
    refuse_body(api, {"keypair": keypair, "extra": 1}, 400, UNEXPECTED.format("extra"))
    refuse_body(api, {"keypair": {**keypair, "extra": {}}}, 400, UNEXPECTED.format("extra"))
    refuse_body(api, {"keypair": {**keypair, "Name": "kp"}}, 400, UNEXPECTED.format("Name"))
    refuse_body(api, {"keypairs": keypair}, 400, "")


@pytest.mark.parametrize(
    "field, version", [("type", "2.1"), ("user_id", "2.2"), ("user_id", "2.9")]
)
def test_properties_of_later_microversions_are_unknown(
    api: KeypairsAPI, field: str, version: str
) -> None:
    body = {"name": "kp", "public_key": helpers.ed25519_line(), field: "ssh"}
    refuse_body(api.at(version), {"keypair": body}, 400, UNEXPECTED.format(field))


@pytest.mark.parametrize(
    "body, message",
    [
        pytest.param(
            None, "Invalid input: the request has no body; it must be a JSON object.", id="no-body"
        ),
        pytest.param({}, "'keypair' is a required property", id="empty-object"),
        pytest.param({"keypair": {}}, "'name' is a required property", id="no-name"),
        pytest.param(
            {"keypair": None},
            "Invalid input for field/attribute keypair. It must be an object, not null.",
            id="null-keypair",
        ),
        pytest.param({"keypair": ["kp"]}, "It must be an object, not an array.", id="list-keypair"),
        pytest.param(
            [],
            "Invalid input: the request body must be a JSON object, not an array.",
            id="list-body",
        ),
        pytest.param("kp", "must be a JSON object, not a string.", id="string-body"),
        pytest.param(
            {"keypair": {"name": "kp", "public_key": 1}},
            "keypair/public_key. It must be a string, not an integer.",
            id="integer-key",
        ),
        pytest.param(
            {"keypair": {"name": "kp", "public_key": None}},
            "keypair/public_key. It must be a string, not null.",
            id="null-key",
        ),
    ],
)
def test_malformed_request(api: KeypairsAPI, body: object, message: str) -> None:
    refuse_body(api.at("2.2"), body, 400, message)


def test_unknown_keypair(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    api.refused("GET", "nope", status=404, message=f"Keypair nope not found for user {api.user}")
    api.refused("DELETE", "nope", status=404, message="Keypair nope not found")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
def test_methods_not_served_on_a_keypair(api: KeypairsAPI, method: str) -> None:
    response = api.request(method, "kp", body={"keypair": {"name": "kp"}})
    expect_fault(response, 405, "The method specified is not allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "DELETE"}


# --- malformed public keys -------------------------------------------------------------------


CORPUS = build_corpus()


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_malformed_public_key_is_refused(api: KeypairsAPI, case) -> None:
    api = api.at("2.2")
    message = refuse_body(
        api, {"keypair": {"name": "kp", "public_key": case.text}}, 400, "Keypair data is invalid: "
    )
    assert case.reason in message
    # The reason names the problem, not the whole input back.
    assert len(message) < 400


X509_SMUGGLING = {
    "trailing-ssh-key": lambda c: c + helpers.ed25519_line() + "\n",
    "leading-ssh-key": lambda c: helpers.ed25519_line() + "\n" + c,
    "trailing-text": lambda c: c + "junk",
    "two-certificates": lambda c: c + c,
    "nul": lambda c: c + "\x00",
    "leading-nul": lambda c: "\x00" + c,
}


@pytest.mark.parametrize("case", list(X509_SMUGGLING))
def test_x509_public_key_is_one_certificate_and_nothing_else(api: KeypairsAPI, case: str) -> None:
    """Whatever rides along would reach the metadata's public_keys, and so
    authorized_keys, without being fingerprinted."""
    text = X509_SMUGGLING[case](helpers.x509_certificate())
    refuse_body(
        api.at("2.2"),
        {"keypair": {"name": "c", "type": "x509", "public_key": text}},
        400,
        "Keypair data is invalid: an x509 public_key must be one PEM certificate",
    )


def test_x509_certificate_with_blank_lines_around_is_accepted(api: KeypairsAPI) -> None:
    text = "\n" + helpers.x509_certificate() + "\n"
    assert api.at("2.2").create("c", text, type="x509")["public_key"] == text


# --- hostile bodies ---------------------------------------------------------------------------


def padded_body(size: int) -> bytes:
    """A valid create body of exactly ``size`` bytes (JSON whitespace padding)."""
    body = json.dumps({"keypair": {"name": "kp", "public_key": helpers.ed25519_line()}})
    return body.encode() + b" " * (size - len(body))


def test_body_at_the_limit_is_accepted(api: KeypairsAPI) -> None:
    response = api.request("POST", raw=padded_body(MAX_BODY))
    api.check("create_keypair", response)


def test_body_over_the_limit_is_413(api: KeypairsAPI) -> None:
    refuse_raw(api, padded_body(MAX_BODY + 1), 413, "Request is too large.")


def test_chunked_body_over_the_limit_is_413(api: KeypairsAPI) -> None:
    raw = padded_body(MAX_BODY + 1)
    request = webob.Request.blank(api.path(), method="POST")
    request.headers.update(
        {
            "X-Auth-Token": f"{api.user}:{api.project}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        }
    )
    request.body_file = io.BytesIO(raw)  # sets wsgi.input_terminated, as servers do
    request.environ.pop("CONTENT_LENGTH", None)
    response = request.get_response(api.app)
    expect_fault(response, 413, "Request is too large.")
    assert api.names() == []


@pytest.mark.parametrize(
    "raw, message",
    [
        pytest.param(b'{"keypair": {"name": "\xff\xfe"}}', "not valid UTF-8", id="utf-8"),
        pytest.param(b"\xef\xbb\xbf{}", "Malformed request body", id="byte-order-mark"),
        pytest.param(b'{"keypair": ', "Malformed request body", id="truncated"),
        pytest.param(b"{'keypair': {}}", "Malformed request body", id="single-quotes"),
        pytest.param(
            b'{"keypair": {"name": "kp"}} {}', "Malformed request body", id="trailing-data"
        ),
        pytest.param(b"[" * 100000, "Malformed request body", id="100000-open-brackets"),
        pytest.param(
            b'{"a":' * 15000 + b"1" + b"}" * 15000,
            "Malformed request body",
            id="15000-nested-objects",
        ),
        pytest.param(b"1" * 5000, "Malformed request body", id="5000-digit-integer"),
    ],
)
def test_undecodable_body_is_a_400(api: KeypairsAPI, raw: bytes, message: str) -> None:
    refuse_raw(api, raw, 400, message)


def test_json_nested_100000_deep_is_a_400(make_host) -> None:
    api = KeypairsAPI(make_host(api__max_request_body_size=300000).api)
    refuse_raw(api, b"[" * 100000 + b"]" * 100000, 400, "Malformed request body")


def test_xml_is_not_served_on_v2_1(api: KeypairsAPI) -> None:
    raw = b"<keypair><name>kp</name></keypair>"
    refuse_raw(
        api, raw, 415, "Unsupported Content-Type application/xml", content_type="application/xml"
    )


@pytest.mark.parametrize("path_name", ["a%00b", "%C3%A9", "x" * 300, "%0A", "a%20"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_impossible_names_in_the_path_are_404(
    api: KeypairsAPI, method: str, path_name: str
) -> None:
    path = api.root + "/os-keypairs/" + path_name
    expect_fault(api.request(method, path=path), 404, "not found for user")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_path_that_is_not_utf8_is_a_fault(api: KeypairsAPI, method: str) -> None:
    response = api.request(method, path=api.root + "/os-keypairs/%FF")
    expect_fault(response, 400, "Malformed request URL: the path is not valid UTF-8.")


def test_impossible_marker_is_a_400(api: KeypairsAPI) -> None:
    api.at("2.35").refused("GET", query="marker=a%00b", status=400, message="could not be found")


def test_server_key_name_with_nul_is_a_400(api: KeypairsAPI) -> None:
    body = {"server": {"name": "s", "flavorRef": "1", "key_name": "a\x00b"}}
    response = api.request("POST", body=body, path="/v2.1/servers")
    expect_fault(response, 400, "Invalid key_name provided.")
