"""Who may see and change which keypairs (SPEC §3, Authorization).

Keypairs belong to a user.  From 2.10 an admin names another user with
``user_id`` (query on index/show/delete, body on create); a non-admin naming
another user is a 403; another user's keypair is invisible (404).
"""

from __future__ import annotations

import pytest

from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI, expect_fault

shared_host = helpers.shared_host
api = helpers.api


POLICY = "Policy doesn't allow os_compute_api:os-keypairs:{} to be performed."


@pytest.fixture
def other(api: KeypairsAPI) -> KeypairsAPI:
    """A second user of the same project."""
    return api.as_user(helpers.unique("other"))


@pytest.mark.parametrize("version", ["2.10", "2.35", "2.92"])
def test_admin_manages_another_users_keypairs(api: KeypairsAPI, version: str) -> None:
    admin = api.as_admin().at(version)
    owner = {"user_id": api.user}
    created = admin.create("kp", user_id=api.user)
    assert created["user_id"] == api.user
    assert api.at(version).names() == ["kp"]
    assert admin.names() == []  # the admin's own list
    assert admin.names(owner) == ["kp"]
    assert admin.show("kp", owner) == api.at(version).show("kp")
    admin.refused("GET", "kp", status=404, message="Keypair kp not found for user admin")
    admin.delete("kp", owner)
    assert api.names() == []


def test_user_id_is_ignored_in_queries_before_2_10(api: KeypairsAPI) -> None:
    api.at("2.9").create("kp")
    admin = api.as_admin().at("2.9")
    owner = {"user_id": api.user}
    assert admin.names(owner) == []
    admin.refused("GET", "kp", query=owner, status=404, message="for user admin")
    admin.refused("DELETE", "kp", query=owner, status=404)
    assert api.names() == ["kp"]


def test_user_id_in_the_body_is_unknown_before_2_10(api: KeypairsAPI) -> None:
    admin = api.as_admin().at("2.9")
    response = admin.post({"name": "kp", "public_key": helpers.ed25519_line(), "user_id": api.user})
    expect_fault(response, 400, "('user_id' was unexpected)")
    assert api.names() == []


@pytest.mark.parametrize("version", ["2.10", "2.75"])
def test_non_admin_naming_another_user_is_forbidden(
    api: KeypairsAPI, other: KeypairsAPI, version: str
) -> None:
    api, other = api.at(version), other.at(version)
    other.create("theirs")
    target = {"user_id": other.user}
    api.refused("GET", query=target, status=403, message=POLICY.format("index"))
    api.refused("GET", "theirs", query=target, status=403, message=POLICY.format("show"))
    api.refused("DELETE", "theirs", query=target, status=403, message=POLICY.format("delete"))
    response = api.post(
        {"name": "planted", "public_key": helpers.ed25519_line(), "user_id": other.user}
    )
    expect_fault(response, 403, POLICY.format("create"))
    assert other.names() == ["theirs"]


def test_naming_oneself_is_allowed(api: KeypairsAPI) -> None:
    api = api.at("2.10")
    me = {"user_id": api.user}
    assert api.create("kp", user_id=api.user)["user_id"] == api.user
    assert api.names(me) == ["kp"]
    assert api.show("kp", me)["name"] == "kp"
    api.delete("kp", me)


@pytest.mark.parametrize("version", ["2.1", "2.10"])
def test_another_users_keypair_is_invisible(
    api: KeypairsAPI, other: KeypairsAPI, version: str
) -> None:
    api, other = api.at(version), other.at(version)
    other.create("theirs")
    assert api.names() == []
    api.refused(
        "GET", "theirs", status=404, message=f"Keypair theirs not found for user {api.user}"
    )
    api.refused("DELETE", "theirs", status=404)
    assert other.names() == ["theirs"]


def test_names_are_unique_per_user_not_per_cloud(api: KeypairsAPI, other: KeypairsAPI) -> None:
    mine = api.create("kp")
    theirs = other.create("kp")
    assert api.show("kp")["public_key"] == mine["public_key"]
    assert other.show("kp")["public_key"] == theirs["public_key"]
    api.delete("kp")
    assert other.names() == ["kp"]


def test_keypairs_belong_to_the_user_not_the_project(api: KeypairsAPI) -> None:
    api.create("kp")
    elsewhere = api.as_user(api.user, helpers.unique("another-project"))
    assert elsewhere.names() == ["kp"]
    assert elsewhere.with_project_in_path().names() == ["kp"]


@pytest.mark.parametrize("user_id", ["a\x00b", "a\nb", "a\x7fb"])
def test_malformed_user_id_is_a_400(api: KeypairsAPI, user_id: str) -> None:
    admin = api.as_admin().at("2.10")
    message = "Invalid input for field/attribute user_id"
    admin.refused("GET", query={"user_id": user_id}, status=400, message=message)
    admin.refused("GET", "kp", query={"user_id": user_id}, status=400, message=message)
    response = admin.post({"name": "kp", "public_key": helpers.ed25519_line(), "user_id": user_id})
    expect_fault(response, 400, message)


def test_lone_surrogate_user_id_is_a_400(api: KeypairsAPI) -> None:
    admin = api.as_admin().at("2.10")
    # json.dumps writes the lone surrogate as the escape "\ud800"
    response = admin.post(
        {"name": "kp", "user_id": "a\ud800", "public_key": helpers.ed25519_line()}
    )
    expect_fault(response, 400, "Invalid input for field/attribute user_id")


def test_an_operators_policy_file_overrides_the_defaults(make_host, tmp_path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        '"os_compute_api:os-keypairs:index": "rule:context_is_admin"\n'
        '"os_compute_api:os-keypairs:delete": "!"\n'
    )
    host = make_host(oslo_policy__policy_file=str(policy_file))
    user = KeypairsAPI(host.api, version="2.92")
    user.create("kp")
    for _ in range(2):  # refused every time, not only the first
        user.refused("GET", status=403, message=POLICY.format("index"))
    assert user.as_admin().names({"user_id": user.user}) == ["kp"]
    assert user.show("kp")["name"] == "kp"  # rules the file leaves alone keep their defaults
    user.as_admin().refused("DELETE", "kp", status=403, message=POLICY.format("delete"))
    assert user.as_admin().names({"user_id": user.user}) == ["kp"]
