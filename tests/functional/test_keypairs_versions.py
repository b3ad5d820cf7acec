"""os-keypairs bodies and status codes at every microversion boundary (SPEC §3).

Every success is checked against the strict schemas of ``response_schemas``
(``additionalProperties: false``), so a field that appears one microversion
too early or too late fails here as it would fail Tempest.
"""

from __future__ import annotations

import datetime

import jsonschema
import pytest

from tests.conftest import Client
from tests.functional import keypairs_helpers as helpers
from tests.functional import response_schemas
from tests.functional.keypairs_helpers import (
    BOUNDARIES,
    KeypairsAPI,
    expect_fault,
    md5_fingerprint,
)
from tests.support import ed25519_line, microversion_at_least

shared_host = helpers.shared_host
api = helpers.api


def without(view: dict, *fields: str) -> dict:
    return {k: v for k, v in view.items() if k not in fields}


def expected_view(
    api: KeypairsAPI, name: str, public_key: str, fingerprint: str, key_type: str = "ssh"
) -> dict:
    """The create view of an imported key at ``api.version``."""
    view = {"name": name, "public_key": public_key, "fingerprint": fingerprint, "user_id": api.user}
    if microversion_at_least(api.version, "2.2"):
        view["type"] = key_type
    return view


@pytest.mark.parametrize("version", BOUNDARIES)
def test_import_list_show_delete(api: KeypairsAPI, version: str) -> None:
    api = api.at(version)
    public_key = ed25519_line("me@laptop")

    created = api.create("kp", public_key)
    assert created == expected_view(api, "kp", public_key, md5_fingerprint(public_key))

    # A create response, less private_key and user_id, is the list entry.
    assert api.list() == {"keypairs": [{"keypair": without(created, "user_id")}]}

    shown = api.show("kp")
    assert shown == {
        **created,
        "id": shown["id"],
        "created_at": shown["created_at"],
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
    }

    api.delete("kp")
    assert api.list() == {"keypairs": []}
    api.refused("GET", "kp", status=404, message=f"Keypair kp not found for user {api.user}")
    api.refused("DELETE", "kp", status=404, message="Keypair kp not found")


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.91"])
def test_generate_list_show_delete(api: KeypairsAPI, version: str) -> None:
    api = api.at(version)
    created = api.generate("generated")
    assert created["public_key"].startswith("ssh-rsa ")
    assert created["fingerprint"] == md5_fingerprint(created["public_key"])
    assert created["user_id"] == api.user
    assert api.list()["keypairs"] == [{"keypair": without(created, "user_id", "private_key")}]
    assert without(
        api.show("generated"), "id", "created_at", "updated_at", "deleted", "deleted_at"
    ) == without(created, "private_key")
    api.delete("generated")


@pytest.mark.parametrize("version", ["2.92", "latest"])
def test_public_key_required_from_2_92(api: KeypairsAPI, version: str) -> None:
    api = api.at(version)
    text = api.refused(
        "POST",
        body={"keypair": {"name": "kp"}},
        status=400,
        message="'public_key' is a required property",
    )
    # Compute's words first (Tempest matches on them), then why and what to do
    assert text == (
        "'public_key' is a required property: from microversion 2.92 a key pair "
        "is imported, not generated; send public_key, or request microversion "
        "2.91 or lower to have a key pair generated"
    )
    assert api.names() == []


def test_type_is_unknown_before_2_2(api: KeypairsAPI) -> None:
    response = api.post({"name": "kp", "public_key": ed25519_line(), "type": "ssh"})
    expect_fault(response, 400, "Additional properties are not allowed ('type' was unexpected)")


@pytest.mark.parametrize("version", ["2.2", "2.92"])
def test_type_defaults_to_ssh_and_is_an_enum(api: KeypairsAPI, version: str) -> None:
    api = api.at(version)
    assert api.create("default")["type"] == "ssh"
    assert api.create("explicit", type="ssh")["type"] == "ssh"
    for bad in ("rsa", "SSH", "", None, 1):
        expect_fault(
            api.post({"name": "bad", "public_key": ed25519_line(), "type": bad}), 400, "type"
        )
    assert api.names() == ["default", "explicit"]


def test_show_record_fields(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    before = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    api.create("first")
    api.create("second")
    after = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    first, second = api.show("first"), api.show("second")

    assert isinstance(first["id"], int) and not isinstance(first["id"], bool)
    assert first["id"] != second["id"]
    created_at = datetime.datetime.strptime(first["created_at"], "%Y-%m-%dT%H:%M:%S.%f")
    # UTC, to the microsecond (a little slack for clocks of other precision)
    slack = datetime.timedelta(seconds=1)
    assert before - slack <= created_at <= after + slack
    assert (first["deleted"], first["deleted_at"], first["updated_at"]) == (False, None, None)
    assert first["user_id"] == api.user


@pytest.mark.parametrize(
    "public_key",
    [
        pytest.param(ed25519_line(), id="bare"),
        pytest.param(ed25519_line() + "\n", id="trailing-newline"),
        pytest.param(ed25519_line("a comment with  spaces"), id="comment-with-spaces"),
        pytest.param(ed25519_line().replace(" ", "\t", 1) + "\t c", id="tabs"),
        pytest.param(ed25519_line().replace(" ", "   ", 1), id="several-spaces"),
    ],
)
def test_public_key_is_returned_exactly_as_sent(api: KeypairsAPI, public_key: str) -> None:
    api = api.at("2.2")
    created = api.create("kp", public_key)
    assert created["public_key"] == public_key
    assert created["fingerprint"] == md5_fingerprint(public_key)
    assert api.list()["keypairs"][0]["keypair"]["public_key"] == public_key
    assert api.show("kp")["public_key"] == public_key


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.92"])
def test_paths_with_and_without_project_id(api: KeypairsAPI, version: str) -> None:
    api = api.at(version)
    with_project = api.with_project_in_path()
    with_project.create("one")
    api.create("two")
    assert with_project.names() == api.names() == ["one", "two"]
    assert with_project.show("two") == api.show("two")
    with_project.delete("two")
    api.delete("one")
    assert with_project.names() == []


def test_project_in_path_must_be_the_callers(api: KeypairsAPI) -> None:
    other = api.with_project_in_path().as_user(api.user, "someone-elses-project")
    path = other.path()
    response = api.request("GET", path=path)
    expect_fault(
        response,
        400,
        "Malformed request URL: URL's project_id "
        "'someone-elses-project' doesn't match Context's "
        f"project_id '{api.project}'",
    )


@pytest.mark.parametrize(
    "headers, echoed",
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.2"}, "2.2"),
        ({"X-OpenStack-Nova-API-Version": "2.35"}, "2.35"),
        ({"OpenStack-API-Version": "compute latest"}, "2.92"),
        ({"X-OpenStack-Nova-API-Version": "latest"}, "2.92"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_microversion_headers_are_echoed(
    api: KeypairsAPI, headers: dict, echoed: str, method: str
) -> None:
    if method != "POST":
        api.at(echoed).create("kp")
    versionless = Client(api.app, f"{api.user}:{api.project}")
    body = {"keypair": {"name": "kp", "public_key": ed25519_line()}}
    response = versionless.request(
        method,
        api.path("kp" if method == "DELETE" else None),
        body if method == "POST" else None,
        headers=headers,
    )
    operation = {"GET": "list_keypairs", "POST": "create_keypair", "DELETE": "delete_keypair"}[
        method
    ]
    api.at(echoed).check(operation, response)
    assert response.headers["OpenStack-API-Version"] == f"compute {echoed}"
    assert response.headers["X-OpenStack-Nova-API-Version"] == echoed
    assert set(response.headers["Vary"].replace(" ", "").split(",")) == {
        "OpenStack-API-Version",
        "X-OpenStack-Nova-API-Version",
    }


@pytest.mark.parametrize(
    "header, status, message",
    [
        (
            "compute 2.93",
            406,
            "Version 2.93 is not supported by the API. Minimum is 2.1 and maximum is 2.92.",
        ),
        ("compute 2.0", 406, "Version 2.0 is not supported by the API"),
        ("compute 3.1", 406, "Version 3.1 is not supported by the API"),
        ("compute 2.x", 400, "API Version String 2.x is of invalid format"),
        ("compute 2", 400, "is of invalid format"),
    ],
)
def test_unsupported_or_malformed_microversion(
    api: KeypairsAPI, header: str, status: int, message: str
) -> None:
    response = api.request(
        "GET", headers={"OpenStack-API-Version": header}, path="/v2.1/os-keypairs"
    )
    expect_fault(response, status, message)


@pytest.mark.parametrize(
    "operation, version, body",
    [
        (
            "list_keypairs",
            "2.1",
            {
                "keypairs": [
                    {
                        "keypair": {
                            "name": "kp",
                            "public_key": "k",
                            "fingerprint": "0" * 2 + ":00" * 15,
                            "type": "ssh",
                        }
                    }
                ]
            },
        ),
        (
            "list_keypairs",
            "2.34",
            {
                "keypairs": [],
                "keypairs_links": [
                    {"rel": "next", "href": "http://localhost/v2.1/os-keypairs?marker=kp"}
                ],
            },
        ),
        ("list_keypairs", "2.35", {"keypairs": [], "keypairs_links": []}),
        (
            "create_keypair",
            "2.1",
            {
                "keypair": {
                    "name": "kp",
                    "public_key": "k",
                    "fingerprint": "00" + ":00" * 15,
                    "user_id": "u",
                    "type": "ssh",
                }
            },
        ),
        (
            "create_keypair",
            "2.2",
            {
                "keypair": {
                    "name": "kp",
                    "public_key": "k",
                    "fingerprint": "00" + ":00" * 15,
                    "user_id": "u",
                }
            },
        ),
        (
            "create_keypair",
            "2.92",
            {
                "keypair": {
                    "name": "kp",
                    "public_key": "k",
                    "fingerprint": "00" + ":00" * 15,
                    "user_id": "u",
                    "type": "ssh",
                    "private_key": "p",
                }
            },
        ),
        (
            "get_keypair",
            "2.2",
            {
                "keypair": {
                    "name": "kp",
                    "public_key": "k",
                    "fingerprint": "00" + ":00" * 15,
                    "user_id": "u",
                    "type": "ssh",
                    "id": 1,
                    "created_at": "2011-08-08T00:00:00",
                    "updated_at": None,
                    "deleted": False,
                    "deleted_at": None,
                }
            },
        ),
    ],
    ids=[
        "type-at-2.1",
        "links-at-2.34",
        "empty-links",
        "type-in-create-at-2.1",
        "no-type-at-2.2",
        "private-key-at-2.92",
        "timestamp-without-microseconds",
    ],
)
def test_the_schemas_are_strict(operation: str, version: str, body: dict) -> None:
    """The checks above can fail: each body is one microversion off."""
    schema = response_schemas.schema_for(operation, version)["response_body"]
    with pytest.raises(jsonschema.ValidationError):
        response_schemas.validate_body(body, schema)
