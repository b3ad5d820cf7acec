"""Keypair names: lengths, characters per microversion, URLs, case and order.

Before 2.92 a name is 1-255 of ``A-Z a-z 0-9 _ -`` and inner spaces; from
2.92 ``@`` and ``.`` too.  The whole string must match: no leading or
trailing whitespace, no trailing newline.  Names are compared and sorted by
their exact bytes on every backend.
"""

from __future__ import annotations

import http.client
import json
import string
import threading

import pytest
import waitress
from cheroot import wsgi

from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI, expect_fault
from tests.support import free_port

pytestmark = pytest.mark.mariadb  # the database decides names, order, quota and filters

shared_host = helpers.shared_host
api = helpers.api


BEFORE_292 = set(string.ascii_letters + string.digits + "_- ")
FROM_292 = BEFORE_292 | {"@", "."}
NAME_MESSAGE = "Invalid input for field/attribute name"


def refuse_name(api: KeypairsAPI, name: object, message: str = "name") -> str:
    response = api.post({"name": name, "public_key": helpers.ed25519_line()})
    return expect_fault(response, 400, message)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a", id="one-character"),
        pytest.param("k" * 255, id="255-characters"),
        pytest.param("Az09_-", id="every-class"),
        pytest.param("inner space", id="inner-space"),
        pytest.param("two  spaces", id="two-inner-spaces"),
        pytest.param("-", id="dash"),
        pytest.param("_", id="underscore"),
        pytest.param("0", id="digit"),
    ],
)
@pytest.mark.parametrize("version", ["2.1", "2.91", "2.92"])
def test_valid_name_round_trips(api: KeypairsAPI, version: str, name: str) -> None:
    api = api.at(version)
    assert api.create(name)["name"] == name
    assert api.names() == [name]
    assert api.show(name)["name"] == name  # URL-encoded by the helper
    api.delete(name)
    assert api.names() == []


@pytest.mark.parametrize(
    "name, message",
    [
        pytest.param("", "keypair/name. It may not be empty.", id="empty"),
        pytest.param("k" * 256, "It may be at most 255 characters long.", id="256-characters"),
        pytest.param("\u00e9" * 256, "(256 characters)", id="256-code-points"),
        pytest.param(" lead", NAME_MESSAGE, id="leading-space"),
        pytest.param("trail ", NAME_MESSAGE, id="trailing-space"),
        pytest.param(" ", NAME_MESSAGE, id="only-space"),
        pytest.param("kp\n", NAME_MESSAGE, id="trailing-newline"),
        pytest.param("\nkp", NAME_MESSAGE, id="leading-newline"),
        pytest.param("k\np", NAME_MESSAGE, id="inner-newline"),
        pytest.param("k\tp", NAME_MESSAGE, id="inner-tab"),
        pytest.param("kp\t", NAME_MESSAGE, id="trailing-tab"),
        pytest.param("kp\r", NAME_MESSAGE, id="trailing-carriage-return"),
        pytest.param("k\x00p", NAME_MESSAGE, id="nul"),
        pytest.param("k\u00a0p", NAME_MESSAGE, id="no-break-space"),
        pytest.param("\u043a\u043b\u044e\u0447", NAME_MESSAGE, id="cyrillic"),
        pytest.param("caf\u00e9", NAME_MESSAGE, id="latin-accent"),
        pytest.param("\uff4b\uff50", NAME_MESSAGE, id="fullwidth"),
        pytest.param("\u0663", NAME_MESSAGE, id="arabic-indic-digit"),
        pytest.param("\U0001f511", NAME_MESSAGE, id="emoji"),
        pytest.param("kp\u200b", NAME_MESSAGE, id="zero-width-space"),
        pytest.param("a/b", NAME_MESSAGE, id="slash"),
        pytest.param("..", NAME_MESSAGE, id="dots"),
        pytest.param(5, "It must be a string, not an integer.", id="integer"),
        pytest.param(None, "It must be a string, not null.", id="null"),
        pytest.param(["kp"], "It must be a string, not an array.", id="list"),
    ],
)
@pytest.mark.parametrize("version", ["2.1", "2.91"])
def test_invalid_name_is_refused(
    api: KeypairsAPI, version: str, name: object, message: str
) -> None:
    api = api.at(version)
    refuse_name(api, name, message)
    assert api.names() == []


def test_an_empty_name_is_said_to_be_empty(api: KeypairsAPI) -> None:
    assert refuse_name(api.at("2.92"), "") == (
        "Invalid input for field/attribute keypair/name. It may not be empty."
    )


def test_a_long_name_is_shown_once_and_shortened(api: KeypairsAPI) -> None:
    assert refuse_name(api.at("2.2"), "k" * 300) == (
        "Invalid input for field/attribute keypair/name. Value: kkkkkkkkkkkkkkkkkkkk... "
        "(300 characters). It may be at most 255 characters long."
    )


def test_name_message_explains_the_rule(api: KeypairsAPI) -> None:
    assert refuse_name(api.at("2.91"), "a@b") == (
        "Invalid input for field/attribute name. Value: 'a@b'. A key pair name may "
        "contain only letters, digits, '_', '-' and inner spaces, and may not start "
        "or end with a space."
    )
    assert "'_', '-', '@', '.' and inner spaces" in refuse_name(api.at("2.92"), "a/b")


@pytest.mark.parametrize(
    "version, allowed", [("2.1", BEFORE_292), ("2.91", BEFORE_292), ("2.92", FROM_292)]
)
def test_each_printable_ascii_character(api: KeypairsAPI, version: str, allowed: set[str]) -> None:
    """``a<c>b`` for every printable ASCII character c: accepted exactly when allowed."""
    api = api.at(version)
    accepted = set()
    for character in string.printable:
        response = api.post({"name": f"a{character}b", "public_key": helpers.ed25519_line()})
        if response.status_int < 300:
            accepted.add(character)
        else:
            expect_fault(response, 400, NAME_MESSAGE)
    assert accepted == allowed
    assert sorted(api.names()) == sorted(f"a{c}b" for c in allowed)


@pytest.mark.parametrize(
    "name", ["me@example.com", "a.b", "@", ".hidden", "trailing.", "x@y.z with space", "..."]
)
def test_at_and_dot_from_2_92(api: KeypairsAPI, name: str) -> None:
    refuse_name(api.at("2.91"), name, NAME_MESSAGE)
    api = api.at("2.92")
    assert api.create(name)["name"] == name
    assert api.show(name)["name"] == name
    assert api.names() == [name]
    api.delete(name)
    assert api.names() == []


@pytest.mark.parametrize(
    "name, encoded",
    [
        ("my key", "my%20key"),
        ("me@host.example", "me%40host.example"),
        ("me@host.example", "me@host.example"),
        ("a.b", "a%2Eb"),
        ("...", "%2E%2E%2E"),
        ("UPPER_lower-09", "%55PPER_lower-09"),
    ],
)
def test_url_encoded_names_in_show_and_delete(api: KeypairsAPI, name: str, encoded: str) -> None:
    api = api.at("2.92")
    created = api.create(name)
    path = api.root + "/os-keypairs/" + encoded
    shown = api.check("get_keypair", api.request("GET", path=path))["keypair"]
    assert shown["name"] == name and shown["public_key"] == created["public_key"]
    api.check("delete_keypair", api.request("DELETE", path=path))
    assert api.names() == []


def test_plus_in_a_path_is_not_a_space(api: KeypairsAPI) -> None:
    api.create("my key")
    response = api.request("GET", path=api.root + "/os-keypairs/my+key")
    expect_fault(response, 404, "Keypair my+key not found")


def test_names_differing_only_in_case_are_two_keypairs(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    lower = api.create("kp")
    upper = api.create("KP")
    assert lower["fingerprint"] != upper["fingerprint"]
    assert api.names() == ["KP", "kp"]
    assert api.show("kp")["public_key"] == lower["public_key"]
    assert api.show("KP")["public_key"] == upper["public_key"]
    api.delete("KP")
    assert api.names() == ["kp"]


def test_names_sort_in_binary_order(api: KeypairsAPI) -> None:
    api = api.at("2.92")
    names = [
        "b",
        "B",
        "a",
        "A",
        "_x",
        "-x",
        "0",
        "a b",
        "a-b",
        "a.b",
        "Z",
        "z",
        "@x",
        "aB",
        "ab",
        "AB",
        "Ab",
        "a_b",
        "9",
    ]
    for name in names:
        api.create(name)
    # Python orders str by code point, which for ASCII is the byte order.
    assert api.names() == sorted(names)
    assert api.names()[:4] == ["-x", "0", "9", "@x"]


def test_duplicate_name_is_a_conflict(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    first = api.create("kp")
    response = api.post({"name": "kp", "public_key": helpers.ed25519_line()})
    expect_fault(response, 409, "Key pair 'kp' already exists.")
    assert api.show("kp")["public_key"] == first["public_key"]
    assert api.names() == ["kp"]


def _serve_with_cheroot(app, port):
    server = wsgi.Server(("127.0.0.1", port), app, numthreads=2)
    server.prepare()
    threading.Thread(target=server.serve, daemon=True).start()
    return server.stop


def _serve_with_waitress(app, port):
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    return server.close


@pytest.mark.parametrize("serve", [_serve_with_cheroot, _serve_with_waitress])
def test_an_encoded_slash_in_a_served_url_is_a_slash_in_the_answer(host, serve) -> None:
    """cheroot leaves ``%2F`` encoded in PATH_INFO, waitress (what keypairs-api
    serves with) decodes it: either way the name in the answer is ``a/b``."""
    port = free_port()
    stop = serve(host.api, port)
    try:
        for path in ("a%2Fb", "a%2fb"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", f"/v2.1/os-keypairs/{path}", headers={"X-Auth-Token": "u:p"})
            response = connection.getresponse()
            assert response.status == 404
            assert json.loads(response.read()) == {
                "itemNotFound": {"code": 404, "message": "Keypair a/b not found for user u"}
            }
            connection.close()
    finally:
        stop()
