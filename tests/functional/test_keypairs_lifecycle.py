"""The keypair lifecycle (keypairs 1.1): description, labels, update, expiry, usage.

Each test runs on SQLite, PostgreSQL and MariaDB, as a user of its own.  Times in the
past are written through the store (the API refuses them), as a key that
has aged would have them.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
import webob

from keypairs_ext.api import extended, lifecycle
from keypairs_ext.host.metadata import sign
from tests.conftest import Client, fault
from tests.functional import keypairs_helpers as helpers

pytestmark = pytest.mark.mariadb  # the database decides names, order, quota and filters

shared_host = helpers.shared_host

V11 = f"compute 2.92, keypairs {extended.LIFECYCLE_VERSION}"
V10 = "compute 2.92, keypairs 1.0"
LIFECYCLE_FIELDS = {"description", "labels", "expires_at", "expired", "server_count"}


class User:
    """One user of this test's own, speaking keypairs 1.1 unless told otherwise."""

    def __init__(self, host: Any, user: str | None = None) -> None:
        self.host = host
        self.user = user or helpers.unique("user")
        self.client = Client(host.api, token=f"{self.user}:project1")

    def call(self, method: str, path: str, body: Any = None, header: str = V11) -> webob.Response:
        return self.client.request(
            method, "/v2.1" + path, body, headers={"OpenStack-API-Version": header}
        )

    def create(self, name: str, **fields: Any) -> dict:
        response = self.call(
            "POST", "/os-keypairs", {"keypair": {"name": name, "algorithm": "ed25519", **fields}}
        )
        assert response.status_int == 201, response.body
        return response.json["keypair"]

    def show(self, name: str, header: str = V11) -> dict:
        response = self.call("GET", f"/os-keypairs/{name}", header=header)
        assert response.status_int == 200, response.body
        return response.json["keypair"]

    def listed(self, query: str = "") -> webob.Response:
        return self.call("GET", "/os-keypairs" + query)

    def names(self, query: str = "") -> list[str]:
        response = self.listed(query)
        assert response.status_int == 200, response.body
        return [k["keypair"]["name"] for k in response.json["keypairs"]]

    def boot(self, key_name: str | None, name: str = "vm") -> webob.Response:
        server: dict[str, Any] = {"name": name, "imageRef": "image", "flavorRef": "1"}
        if key_name is not None:
            server["key_name"] = key_name
        return self.call("POST", "/servers", {"server": server})

    def server(self, key_name: str, name: str = "vm") -> str:
        response = self.boot(key_name, name)
        assert response.status_int == 202, response.body
        return response.json["server"]["id"]

    def age(self, name: str, expires_at: datetime.datetime) -> None:
        """Set an expiry the API would refuse (in the past), as time would."""
        store = self.host.extensions[0].store
        store.update(None, self.user, name, {"expires_at": expires_at})

    def metadata(self, server_id: str, path: str) -> str:
        request = webob.Request.blank(path)
        request.headers["X-Instance-ID"] = server_id
        request.headers["X-Instance-ID-Signature"] = sign(server_id, "metadata-secret")
        response = request.get_response(self.host.metadata)
        assert response.status_int == 200, response.body
        return response.text


@pytest.fixture
def user(shared_host: Any) -> User:
    return User(shared_host)


def past(seconds: int = 60) -> datetime.datetime:
    return lifecycle.now() - datetime.timedelta(seconds=seconds)


# --- description and labels ----------------------------------------------------------


def test_create_with_description_labels_and_expiry_shows_them(user: User) -> None:
    created = user.create(
        "contractor",
        description="Dana, DB migration",
        labels={"team": "db", "example.com/role": "contractor"},
        expires_in=7 * 24 * 3600,
    )
    assert LIFECYCLE_FIELDS <= set(created)
    assert created["description"] == "Dana, DB migration"
    assert created["labels"] == {"team": "db", "example.com/role": "contractor"}
    assert created["expired"] is False and created["server_count"] == 0
    expires = datetime.datetime.strptime(created["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((expires - lifecycle.now()).total_seconds() - 7 * 24 * 3600) < 60
    assert user.show("contractor") == {
        k: v for k, v in created.items() if k not in ("private_key", "user_id")
    } | {k: user.show("contractor")[k] for k in ("user_id", "updated_at", "deleted", "deleted_at")}
    listed = user.listed().json["keypairs"][0]["keypair"]
    assert {k: listed[k] for k in LIFECYCLE_FIELDS} == {k: created[k] for k in LIFECYCLE_FIELDS}


def test_a_key_without_lifecycle_fields_shows_their_empty_values(user: User) -> None:
    created = user.create("plain")
    assert {k: created[k] for k in LIFECYCLE_FIELDS} == {
        "description": None,
        "labels": {},
        "expires_at": None,
        "expired": False,
        "server_count": 0,
    }


def test_earlier_versions_and_compatible_clients_see_nothing_new(user: User) -> None:
    user.create("kp", description="d", labels={"a": "b"})
    assert not LIFECYCLE_FIELDS & set(user.show("kp", header=V10))
    assert not LIFECYCLE_FIELDS & set(user.show("kp", header="compute 2.92"))
    response = user.call(
        "POST", "/os-keypairs", {"keypair": {"name": "x", "description": "d"}}, header=V10
    )
    assert fault(response)[:2] == ("badRequest", 400)
    assert "description" in fault(response)[2]
    # The update and the servers routes do not exist below 1.1.
    put = user.call("PUT", "/os-keypairs/kp", {"keypair": {"description": "e"}}, header=V10)
    assert put.status_int == 405
    assert user.call("GET", "/os-keypairs/kp/servers", header=V10).status_int == 404
    assert user.call("GET", "/os-keypairs/kp/servers", header="compute 2.92").status_int == 404


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"labels": {"-bad": "x"}}, "Invalid label key '-bad'"),
        ({"labels": {"a/b/c": "x"}}, "Invalid label key 'a/b/c'"),
        ({"labels": {"Upper.Case/k": "x"}}, "Invalid label key"),
        ({"labels": {"k": "a b"}}, "Invalid value 'a b' of label 'k'"),
        ({"labels": {"k": "x" * 64}}, "It may be at most 63 characters long."),
        ({"labels": {f"k{i}": "v" for i in range(33)}}, "has too many properties"),
        ({"description": "x" * 256}, "It may be at most 255 characters long."),
        ({"expires_at": "tomorrow"}, "Invalid expires_at 'tomorrow'"),
        ({"expires_at": "2099-01-01T00:00:00"}, "with its offset"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "it is not in the future"),
        ({"expires_in": 0}, "less than the minimum of 1"),
        ({"expires_in": 60, "expires_at": "2099-01-01T00:00:00Z"}, "not both"),
        ({"expires_in": "60"}, "It must be an integer, not a string."),
    ],
)
def test_bad_lifecycle_fields_are_a_400_storing_nothing(
    user: User, fields: dict, words: str
) -> None:
    response = user.call("POST", "/os-keypairs", {"keypair": {"name": "bad", **fields}})
    name, code, message = fault(response)
    assert (name, code) == ("badRequest", 400)
    assert words in message
    assert user.names() == []


def test_expires_at_is_read_with_its_offset_and_shown_in_utc(user: User) -> None:
    created = user.create("tz", expires_at="2099-06-01T12:30:15.75+02:00")
    assert created["expires_at"] == "2099-06-01T10:30:15Z"


# --- update ---------------------------------------------------------------------------


def test_update_changes_only_what_it_is_given(user: User) -> None:
    created = user.create("kp", description="old", labels={"a": "1"})
    response = user.call("PUT", "/os-keypairs/kp", {"keypair": {"labels": {"b": "2"}}})
    assert response.status_int == 200, response.body
    updated = response.json["keypair"]
    assert updated["description"] == "old" and updated["labels"] == {"b": "2"}
    assert updated["public_key"] == created["public_key"]
    assert updated["updated_at"] is not None
    response = user.call(
        "PUT", "/os-keypairs/kp", {"keypair": {"description": None, "expires_in": 3600}}
    )
    assert response.json["keypair"]["description"] is None
    assert response.json["keypair"]["expires_at"] is not None
    response = user.call("PUT", "/os-keypairs/kp", {"keypair": {"expires_at": None}})
    assert response.json["keypair"]["expires_at"] is None
    assert user.show("kp") == {
        k: v for k, v in response.json["keypair"].items() if k != "updated_at"
    } | {"updated_at": user.show("kp")["updated_at"]}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"keypair": {}}, "should be non-empty"),
        ({"keypair": {"public_key": "ssh-ed25519 AAAA"}}, "'public_key' was unexpected"),
        ({"keypair": {"name": "renamed"}}, "'name' was unexpected"),
        ({"other": {}}, "'keypair' is a required property"),
        ({"keypair": {"labels": {"k": 1}}}, "It must be a string, not an integer."),
    ],
)
def test_update_is_strict(user: User, body: dict, words: str) -> None:
    user.create("kp")
    name, code, message = fault(user.call("PUT", "/os-keypairs/kp", body))
    assert (name, code) == ("badRequest", 400) and words in message


def test_update_of_another_users_key_is_not_found_and_admin_names_the_user(
    user: User, shared_host: Any
) -> None:
    user.create("kp")
    other = User(shared_host)
    response = other.call("PUT", "/os-keypairs/kp", {"keypair": {"description": "mine"}})
    assert fault(response) == (
        "itemNotFound",
        404,
        f"Keypair kp not found for user {other.user}",
    )
    admin = Client(shared_host.api, token="admin:project1")
    response = admin.request(
        "PUT",
        f"/v2.1/os-keypairs/kp?user_id={user.user}",
        {"keypair": {"description": "by admin"}},
        headers={"OpenStack-API-Version": V11},
    )
    assert response.status_int == 200, response.body
    assert user.show("kp")["description"] == "by admin"


def test_update_servers_and_force_follow_their_own_policy_rules(make_host: Any, tmp_path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        '"os_compute_api:os-keypairs:update": "!"\n'
        '"os_compute_api:os-keypairs:servers": "!"\n'
        '"os_compute_api:os-keypairs:delete:force": "!"\n'
    )
    owner = User(make_host(oslo_policy__policy_file=str(policy_file)))
    owner.create("kp")
    owner.server("kp")
    message = "Policy doesn't allow os_compute_api:os-keypairs:{} to be performed."
    denied = owner.call("PUT", "/os-keypairs/kp", {"keypair": {"description": "x"}})
    assert fault(denied) == ("forbidden", 403, message.format("update"))
    servers = owner.call("GET", "/os-keypairs/kp/servers")
    assert fault(servers) == ("forbidden", 403, message.format("servers"))
    forced = owner.call("DELETE", "/os-keypairs/kp?force=true")
    assert fault(forced) == ("forbidden", 403, message.format("delete:force"))
    assert owner.show("kp")["description"] is None


# --- expiry -----------------------------------------------------------------------------


def test_an_expired_key_is_refused_at_create_and_rebuild_but_still_listed(user: User) -> None:
    user.create("old")
    user.create("fresh")
    server_id = user.server("fresh")
    expired_at = past(3600)
    user.age("old", expired_at)
    stamp = expired_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"Key pair 'old' expired at {stamp} and cannot be used for a new server or a rebuild."
    assert fault(user.boot("old")) == ("badRequest", 400, message)
    rebuild = user.call(
        "POST",
        f"/servers/{server_id}/action",
        {"rebuild": {"imageRef": "image-2", "key_name": "old"}},
    )
    assert fault(rebuild) == ("badRequest", 400, message)
    shown = user.show("old")
    assert shown["expired"] is True and shown["expires_at"] == stamp
    assert user.show("old", header="compute 2.92")["name"] == "old"
    compatible = user.call("GET", "/os-keypairs", header="compute 2.92").json["keypairs"]
    assert {k["keypair"]["name"] for k in compatible} == {"old", "fresh"}


def test_a_cloud_maximum_lifetime_bounds_and_defaults_the_expiry(make_host: Any) -> None:
    host = make_host(keypairs__max_key_lifetime=3600)
    owner = User(host)
    created = owner.create("bounded")
    expires = datetime.datetime.strptime(created["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((expires - lifecycle.now()).total_seconds() - 3600) < 60
    response = owner.call("POST", "/os-keypairs", {"keypair": {"name": "long", "expires_in": 7200}})
    name, code, message = fault(response)
    assert (name, code) == ("badRequest", 400)
    assert "this cloud allows key pairs to live at most 3600 seconds" in message
    response = owner.call("PUT", "/os-keypairs/bounded", {"keypair": {"expires_at": None}})
    assert "expires_at cannot be removed" in fault(response)[2]
    # A compatible client's key expires too (the operator's rule).
    compatible = owner.call(
        "POST",
        "/os-keypairs",
        {"keypair": {"name": "compat", "public_key": helpers.ed25519_line()}},
        header="compute 2.92",
    )
    assert compatible.status_int == 201 and "expires_at" not in compatible.json["keypair"]
    assert owner.show("compat")["expires_at"] is not None


# --- the key in the metadata -------------------------------------------------------------


def test_a_key_with_expiry_is_served_with_the_expiry_time_option(user: User) -> None:
    created = user.create("week", expires_at="2099-03-04T05:06:07Z")
    user.create("forever")
    line = f'expiry-time="20990304050607" {created["public_key"]}'
    with_expiry = user.server("week")
    document = json.loads(user.metadata(with_expiry, "/openstack/latest/meta_data.json"))
    assert document["public_keys"] == {"week": line}
    assert document["keys"] == [{"name": "week", "type": "ssh", "data": line}]
    assert user.metadata(with_expiry, "/latest/meta-data/public-keys/0/openssh-key") == line
    plain = user.server("forever")
    document = json.loads(user.metadata(plain, "/openstack/latest/meta_data.json"))
    public_key = user.show("forever")["public_key"]
    assert document["public_keys"] == {"forever": public_key}
    assert user.metadata(plain, "/latest/meta-data/public-keys/0/openssh-key") == public_key


def test_the_utc_suffix_option_writes_the_z_form(make_host: Any) -> None:
    owner = User(make_host(keypairs__expiry_time_utc_suffix=True))
    created = owner.create("week", expires_at="2099-03-04T05:06:07Z")
    document = json.loads(owner.metadata(owner.server("week"), "/openstack/latest/meta_data.json"))
    assert document["public_keys"]["week"] == (
        f'expiry-time="20990304050607Z" {created["public_key"]}'
    )


def test_updating_a_key_leaves_the_servers_copy_alone(user: User) -> None:
    created = user.create("kp", expires_at="2099-03-04T05:06:07Z")
    server_id = user.server("kp")
    user.call("PUT", "/os-keypairs/kp", {"keypair": {"expires_at": "2099-12-31T00:00:00Z"}})
    document = json.loads(user.metadata(server_id, "/openstack/latest/meta_data.json"))
    assert document["public_keys"]["kp"] == f'expiry-time="20990304050607" {created["public_key"]}'


# --- usage ------------------------------------------------------------------------------


def test_the_view_counts_and_lists_the_servers_using_a_key(user: User) -> None:
    user.create("kp")
    user.create("other")
    first = user.server("kp", "web-1")
    second = user.server("kp", "web-2")
    user.server("other")
    assert user.show("kp")["server_count"] == 2
    listed = user.call("GET", "/os-keypairs/kp/servers").json["servers"]
    assert [(s["id"], s["name"]) for s in listed] == [(first, "web-1"), (second, "web-2")]
    assert all(s["created"].endswith("Z") for s in listed)
    assert user.call("DELETE", f"/servers/{first}").status_int == 204
    assert user.show("kp")["server_count"] == 1
    rebuild = user.call(
        "POST",
        f"/servers/{second}/action",
        {"rebuild": {"imageRef": "image-2", "key_name": "other"}},
        header="compute 2.54, keypairs 1.1",
    )
    assert rebuild.status_int == 202, rebuild.body
    assert user.show("kp")["server_count"] == 0
    assert user.show("other")["server_count"] == 2
    assert user.call("GET", "/os-keypairs/kp/servers").json == {"servers": []}


def test_servers_of_an_unknown_key_is_a_404(user: User) -> None:
    response = user.call("GET", "/os-keypairs/nope/servers")
    assert fault(response) == ("itemNotFound", 404, f"Keypair nope not found for user {user.user}")


def test_extended_delete_of_a_key_in_use_is_a_409_unless_forced(user: User) -> None:
    user.create("kp")
    user.server("kp")
    user.server("kp")
    assert fault(user.call("DELETE", "/os-keypairs/kp")) == (
        "conflictingRequest",
        409,
        "Key pair 'kp' is used by 2 server(s); delete it with force=true to delete it anyway "
        "(the servers keep their copy of the key).",
    )
    assert user.show("kp")["name"] == "kp"
    bad = user.call("DELETE", "/os-keypairs/kp?force=maybe")
    assert fault(bad)[:2] == ("badRequest", 400)
    assert user.call("DELETE", "/os-keypairs/kp?force=true").status_int == 204
    assert user.names() == []
    # A new key of the same name starts unused.
    user.create("kp")
    assert user.show("kp")["server_count"] == 0


def test_compatible_delete_of_a_key_in_use_is_unchanged(user: User) -> None:
    user.create("kp")
    user.server("kp")
    assert user.call("DELETE", "/os-keypairs/kp", header="compute 2.92").status_int == 204
    response = user.call("DELETE", "/os-keypairs/kp?force=true", header="compute 2.92")
    assert fault(response)[:2] == ("badRequest", 400)  # no such parameter there


# --- list filters -----------------------------------------------------------------------


def test_list_filters_by_expiry_usage_and_labels_with_paging(user: User) -> None:
    for name, labels in [
        ("a-prod-db", {"env": "prod", "team": "db"}),
        ("b-prod-web", {"env": "prod", "team": "web"}),
        ("c-dev-db", {"env": "dev", "team": "db"}),
        ("d-prod-db", {"env": "prod", "team": "db", "tier_x": "1"}),
        ("e-none", {"tierAx": "1"}),  # what tier_x=1 would match as a LIKE pattern
    ]:
        user.create(name, labels=labels)
    user.age("c-dev-db", past())
    user.age("d-prod-db", past())
    user.server("a-prod-db")
    user.server("e-none")

    assert user.names("?labels=env=prod") == ["a-prod-db", "b-prod-web", "d-prod-db"]
    assert user.names("?labels=env=prod,team=db") == ["a-prod-db", "d-prod-db"]
    assert user.names("?labels=tier_x=1") == ["d-prod-db"]  # "_" is no wildcard
    assert user.names("?expired=true") == ["c-dev-db", "d-prod-db"]
    assert user.names("?expired=false") == ["a-prod-db", "b-prod-web", "e-none"]
    assert user.names("?in_use=true") == ["a-prod-db", "e-none"]
    assert user.names("?in_use=false&expired=false") == ["b-prod-web"]
    assert user.names("?labels=team=db&expired=true&algorithm=ed25519") == [
        "c-dev-db",
        "d-prod-db",
    ]
    first = user.listed("?labels=team=db&limit=2").json
    assert [k["keypair"]["name"] for k in first["keypairs"]] == ["a-prod-db", "c-dev-db"]
    assert "marker=c-dev-db" in first["keypairs_links"][0]["href"]
    assert "labels=team%3Ddb" in first["keypairs_links"][0]["href"]
    assert user.names("?labels=team=db&limit=2&marker=c-dev-db") == ["d-prod-db"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?expired=soon", "Invalid input for query parameters expired. Value: soon."),
        ("?in_use=2", "Invalid input for query parameters in_use. Value: 2."),
        ("?labels=env", "Invalid label selector 'env'"),
        ("?labels=-x=1", "Invalid label key '-x'"),
    ],
)
def test_bad_list_filters_are_a_400(user: User, query: str, words: str) -> None:
    name, code, message = fault(user.listed(query))
    assert (name, code) == ("badRequest", 400) and words in message


def test_lifecycle_filters_need_keypairs_1_1(user: User) -> None:
    response = user.call("GET", "/os-keypairs?expired=true", header=V10)
    assert fault(response) == (
        "badRequest",
        400,
        "Additional properties are not allowed ('expired' was unexpected)",
    )
