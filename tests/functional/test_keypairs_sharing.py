"""Team keys and several keys per server (keypairs 1.2), on SQLite and PostgreSQL.

Each test has a project of its own: owner ``alice`` and member ``bob``
(roles member, reader), ``rita`` (reader only), ``boss`` (admin of the
project) and ``eve`` (a member of another project).  Tokens are noauth2's
``user:project[:roles]``.
"""

from __future__ import annotations

from typing import Any

import pytest

from keypairs_ext.host.metadata import sign
from tests.conftest import Client, fault
from tests.functional import keypairs_helpers as helpers
from tests.support import ed25519_line

shared_host = helpers.shared_host
HOST_OVERRIDES = {"quota__shared_key_pairs": 3, "keypairs__max_keys_per_server": 3}

V12 = "compute 2.92, keypairs 1.2"
V10 = "compute 2.92, keypairs 1.0"
V11 = "compute 2.92, keypairs 1.1"
COMPATIBLE = "compute 2.92"
SECRET = "metadata-secret"


class Team:
    """The people of one project of this test's own."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.project = helpers.unique("team")
        self.other = helpers.unique("other")
        tag = self.project[-6:]
        self.alice = f"alice-{tag}"
        self.bob = f"bob-{tag}"
        self.tokens = {
            "alice": f"{self.alice}:{self.project}",
            "bob": f"{self.bob}:{self.project}",
            "rita": f"rita-{tag}:{self.project}:reader",
            "boss": f"boss-{tag}:{self.project}:admin,member,reader",
            "eve": f"eve-{tag}:{self.other}",
        }

    def call(self, who: str, method: str, path: str, body: Any = None, header: str = V12) -> Any:
        client = Client(self.host.api, token=self.tokens[who])
        return client.request(
            method, "/v2.1" + path, body, headers={"OpenStack-API-Version": header}
        )

    def create(self, who: str, name: str, header: str = V12, **fields: Any) -> dict:
        body = {"keypair": {"name": name, "public_key": ed25519_line(), **fields}}
        response = self.call(who, "POST", "/os-keypairs", body, header)
        assert response.status_int == 201, response.body
        return response.json["keypair"]

    def names(self, who: str, header: str = V12) -> list[tuple[str, str]]:
        response = self.call(who, "GET", "/os-keypairs", header=header)
        assert response.status_int == 200, response.body
        return [
            (k["keypair"]["name"], k["keypair"].get("visibility", "-"))
            for k in response.json["keypairs"]
        ]

    def boot(self, who: str, header: str = V12, **server: Any) -> Any:
        body = {"server": {"name": "vm", "imageRef": "image", "flavorRef": "1", **server}}
        return self.call(who, "POST", "/servers", body, header)

    def meta_data(self, server_id: str) -> dict:
        return self._metadata(server_id, "/openstack/latest/meta_data.json").json

    def _metadata(self, server_id: str, path: str) -> Any:
        import webob

        request = webob.Request.blank(path)
        request.headers["X-Instance-ID"] = server_id
        request.headers["X-Instance-ID-Signature"] = sign(server_id, SECRET)
        response = request.get_response(self.host.metadata)
        assert response.status_int == 200, response.body
        return response

    def ec2(self, server_id: str, path: str) -> str:
        return self._metadata(server_id, "/latest/meta-data/" + path).text


@pytest.fixture
def team(shared_host: Any) -> Team:
    return Team(shared_host)


def expect(response: Any, status: int, message: str | None = None) -> None:
    assert response.status_int == status, response.body
    if message is not None:
        assert message in fault(response)[2], fault(response)


# --- visibility ------------------------------------------------------------------------


def test_a_key_is_private_by_default_and_shared_on_request(team: Team) -> None:
    private = team.create("alice", "mine")
    assert (private["visibility"], private["user_id"]) == ("private", team.alice)
    shared = team.create("alice", "oncall", visibility="project")
    assert shared["visibility"] == "project"
    # Bob sees the shared key beside his own, never Alice's private one.
    team.create("bob", "bobs")
    assert team.names("bob") == [("bobs", "private"), ("oncall", "project")]
    shown = team.call("bob", "GET", "/os-keypairs/oncall")
    assert shown.status_int == 200
    assert shown.json["keypair"]["user_id"] == team.alice
    assert shown.json["keypair"]["public_key"] == shared["public_key"]
    expect(team.call("bob", "GET", "/os-keypairs/mine"), 404)
    # A reader of the project sees it too; another project does not.
    assert team.names("rita") == [("oncall", "project")]
    assert team.names("eve") == []
    expect(team.call("eve", "GET", "/os-keypairs/oncall"), 404)


def test_compatible_and_earlier_contract_requests_see_nothing_new(team: Team) -> None:
    team.create("alice", "oncall", visibility="project")
    assert team.names("bob", COMPATIBLE) == []
    assert team.names("bob", V10) == []
    expect(team.call("bob", "GET", "/os-keypairs/oncall", header=COMPATIBLE), 404)
    own = team.call("alice", "GET", "/os-keypairs/oncall", header=COMPATIBLE).json["keypair"]
    assert "visibility" not in own
    body = {"keypair": {"name": "x", "public_key": ed25519_line(), "visibility": "project"}}
    expect(
        team.call("alice", "POST", "/os-keypairs", body, V10),
        400,
        "Additional properties are not allowed ('visibility' was unexpected)",
    )
    put = {"keypair": {"visibility": "project"}}
    assert team.call("alice", "PUT", "/os-keypairs/oncall", put, COMPATIBLE).status_int in (
        404,
        405,
    )
    assert team.call("alice", "PUT", "/os-keypairs/oncall", put, V10).status_int in (404, 405)
    expect(
        team.call("alice", "PUT", "/os-keypairs/oncall", put, V11),
        400,
        "Additional properties are not allowed ('visibility' was unexpected)",
    )


def test_the_owner_shares_and_unshares_by_update(team: Team) -> None:
    team.create("alice", "k")
    shared = team.call("alice", "PUT", "/os-keypairs/k", {"keypair": {"visibility": "project"}})
    assert shared.status_int == 200, shared.body
    assert shared.json["keypair"]["visibility"] == "project"
    assert ("k", "project") in team.names("bob")
    private = team.call("alice", "PUT", "/os-keypairs/k", {"keypair": {"visibility": "private"}})
    assert private.json["keypair"]["visibility"] == "private"
    assert team.names("bob") == []
    expect(team.call("alice", "PUT", "/os-keypairs/k", {"keypair": {"visibility": "team"}}), 400)
    expect(team.call("alice", "PUT", "/os-keypairs/k", {"keypair": {"name": "x"}}), 400)
    expect(
        team.call("alice", "PUT", "/os-keypairs/none", {"keypair": {"visibility": "project"}}), 404
    )


@pytest.mark.parametrize(
    ("who", "status"),
    [("bob", 403), ("rita", 403), ("eve", 404), ("boss", 200), ("alice", 200)],
)
def test_who_may_make_a_shared_key_private(team: Team, who: str, status: int) -> None:
    team.create("alice", "oncall", visibility="project")
    put = {"keypair": {"visibility": "private"}}
    expect(team.call(who, "PUT", "/os-keypairs/oncall", put), status)
    assert (("oncall", "project") in team.names("bob")) == (status != 200)


@pytest.mark.parametrize(
    ("who", "status"),
    [("bob", 403), ("rita", 403), ("eve", 404), ("boss", 204), ("alice", 204)],
)
def test_who_may_delete_a_shared_key(team: Team, who: str, status: int) -> None:
    team.create("alice", "oncall", visibility="project")
    expect(team.call(who, "DELETE", "/os-keypairs/oncall"), status)
    assert (("oncall", "project") in team.names("bob")) == (status != 204)
    if status == 204:
        # The owner's quota and the project's were both given back.
        for i in range(3):
            team.create("alice", f"again{i}", visibility="project")


def test_only_the_owner_shares_a_private_key(team: Team) -> None:
    team.create("alice", "mine")
    put = {"keypair": {"visibility": "project"}}
    expect(team.call("boss", "PUT", "/os-keypairs/mine", put), 404)
    body = {
        "keypair": {
            "name": "x",
            "public_key": ed25519_line(),
            "visibility": "project",
            "user_id": team.alice,
        }
    }
    expect(
        team.call("boss", "POST", "/os-keypairs", body),
        400,
        "Only its owner can share a key pair with the project.",
    )


def test_one_shared_key_of_a_name_per_project(team: Team) -> None:
    team.create("alice", "oncall", visibility="project")
    expect(
        team.call(
            "bob",
            "POST",
            "/os-keypairs",
            {"keypair": {"name": "oncall", "public_key": ed25519_line(), "visibility": "project"}},
        ),
        409,
        "A key pair named 'oncall' is already shared with this project.",
    )
    team.create("bob", "oncall")  # a private key of the same name is fine
    expect(
        team.call("bob", "PUT", "/os-keypairs/oncall", {"keypair": {"visibility": "project"}}),
        409,
        "already shared with this project",
    )
    # Bob's own key comes first when he names it.
    assert team.call("bob", "GET", "/os-keypairs/oncall").json["keypair"]["user_id"] == team.bob


def test_the_project_quota_counts_shared_keys_of_every_owner(team: Team) -> None:
    team.create("alice", "s1", visibility="project")
    team.create("bob", "s2", visibility="project")
    team.create("alice", "s3", visibility="project")
    body = {"keypair": {"name": "s4", "public_key": ed25519_line(), "visibility": "project"}}
    expect(
        team.call("bob", "POST", "/os-keypairs", body),
        403,
        "Quota exceeded, too many key pairs shared with this project.",
    )
    team.create("bob", "p1")
    expect(
        team.call("bob", "PUT", "/os-keypairs/p1", {"keypair": {"visibility": "project"}}),
        403,
        "too many key pairs shared with this project",
    )
    assert ("p1", "private") in team.names("bob")
    team.call("alice", "PUT", "/os-keypairs/s1", {"keypair": {"visibility": "private"}})
    assert (
        team.call(
            "bob", "PUT", "/os-keypairs/p1", {"keypair": {"visibility": "project"}}
        ).status_int
        == 200
    )


# --- servers ---------------------------------------------------------------------------


def test_key_names_boot_with_own_and_shared_keys(team: Team) -> None:
    a = team.create("alice", "alice-key")
    b = team.create("bob", "bob-key", visibility="project")
    shared = team.create("alice", "oncall", visibility="project")
    response = team.boot("bob", key_names=["bob-key", "oncall"])
    assert response.status_int == 202, response.body
    server_id = response.json["server"]["id"]
    shown = team.call("bob", "GET", f"/servers/{server_id}").json["server"]
    assert (shown["key_name"], shown["key_names"]) == ("bob-key", ["bob-key", "oncall"])
    compatible = team.call("bob", "GET", f"/servers/{server_id}", header=COMPATIBLE)
    assert "key_names" not in compatible.json["server"]
    assert compatible.json["server"]["key_name"] == "bob-key"
    meta = team.meta_data(server_id)
    assert meta["public_keys"] == {"bob-key": b["public_key"], "oncall": shared["public_key"]}
    assert [k["name"] for k in meta["keys"]] == ["bob-key", "oncall"]
    assert team.ec2(server_id, "public-keys/") == "0=bob-key\n1=oncall"
    assert team.ec2(server_id, "public-keys/1/openssh-key") == shared["public_key"]
    # Alice's private key is not Bob's to use.
    expect(
        team.boot("bob", key_names=["alice-key"]),
        400,
        "Key pair 'alice-key' not found",
    )
    assert a["visibility"] == "private"


def test_key_names_needs_the_opt_in_and_is_bounded(team: Team) -> None:
    team.create("alice", "k1")
    expect(
        team.boot("alice", COMPATIBLE, key_names=["k1"]),
        400,
        "Additional properties are not allowed ('key_names' was unexpected)",
    )
    expect(team.boot("alice", V10, key_names=["k1"]), 400, "'key_names' was unexpected")
    expect(team.boot("alice", key_names=["k1", "k1"]), 400, "names 'k1' more than once")
    expect(
        team.boot("alice", key_names=["a", "b", "c", "d"]),
        400,
        "key_names may name at most 3 keys on this cloud; it names 4.",
    )
    expect(team.boot("alice", key_names=[]), 400)
    expect(team.boot("alice", key_names=[{"name": "k1", "owner": "x"}]), 400)
    expect(team.boot("alice", key_name="k1", key_names=["k1"]), 400, "not both")


def test_a_name_resolves_own_first_then_shared_and_explicitly(team: Team) -> None:
    shared = team.create("alice", "oncall", visibility="project")
    own = team.create("bob", "oncall")
    first = team.boot("bob", key_name="oncall").json["server"]["id"]
    assert team.meta_data(first)["public_keys"] == {"oncall": own["public_key"]}
    explicit = team.boot("bob", key_names=[{"name": "oncall", "shared": True}])
    assert explicit.status_int == 202, explicit.body
    meta = team.meta_data(explicit.json["server"]["id"])
    assert meta["public_keys"] == {"oncall": shared["public_key"]}
    # key_name resolves to the shared key when the caller has none (1.2 only).
    carol = team.boot("boss", key_name="oncall")
    assert carol.status_int == 202, carol.body
    expect(team.boot("boss", COMPATIBLE, key_name="oncall"), 400, "Invalid key_name provided.")
    expect(team.boot("eve", key_name="oncall"), 400, "Invalid key_name provided.")
    expect(
        team.boot("bob", key_names=[{"name": "nope", "shared": True}]),
        400,
        "no key of that name is shared with this project",
    )


def test_a_reader_may_not_boot_with_a_shared_key(team: Team) -> None:
    team.create("alice", "oncall", visibility="project")
    expect(team.boot("rita", key_names=["oncall"]), 403)


def test_rebuild_takes_key_names(team: Team) -> None:
    team.create("alice", "k1")
    team.create("bob", "oncall", visibility="project")
    server_id = team.boot("alice", key_name="k1").json["server"]["id"]
    body = {"rebuild": {"imageRef": "image-2", "key_names": ["oncall", "k1"]}}
    response = team.call("alice", "POST", f"/servers/{server_id}/action", body)
    assert response.status_int == 202, response.body
    assert response.json["server"]["key_names"] == ["oncall", "k1"]
    assert list(team.meta_data(server_id)["public_keys"]) == ["oncall", "k1"]


def test_a_server_keeps_its_keys_after_the_shared_key_is_deleted(team: Team) -> None:
    shared = team.create("alice", "oncall", visibility="project")
    server_id = team.boot("bob", key_names=["oncall"]).json["server"]["id"]
    # In use (keypairs 1.1): a 409 naming the count, unless forced.
    expect(team.call("alice", "DELETE", "/os-keypairs/oncall"), 409)
    assert team.call("alice", "DELETE", "/os-keypairs/oncall?force=true").status_int == 204
    assert team.meta_data(server_id)["public_keys"] == {"oncall": shared["public_key"]}
    expect(team.boot("bob", key_names=["oncall"]), 400, "Key pair 'oncall' not found")


def test_an_expired_shared_key_is_refused_at_boot(team: Team) -> None:
    import time

    team.create("alice", "brief", visibility="project", expires_in=1)
    time.sleep(2.1)
    expect(team.boot("bob", key_names=["brief"]), 400, "Key pair 'brief' expired at")
    expect(team.boot("bob", key_name="brief"), 400, "Key pair 'brief' expired at")


def test_a_member_may_not_relabel_a_shared_key(team: Team) -> None:
    team.create("alice", "oncall", visibility="project")
    put = {"keypair": {"description": "mine now"}}
    expect(team.call("bob", "PUT", "/os-keypairs/oncall", put), 403)
    both = {"keypair": {"description": "rotation key", "visibility": "project"}}
    answer = team.call("alice", "PUT", "/os-keypairs/oncall", both)
    assert answer.status_int == 200, answer.body
    assert answer.json["keypair"]["description"] == "rotation key"


def test_paging_never_splits_an_own_and_a_shared_key_of_one_name(team: Team) -> None:
    team.create("alice", "b-oncall", visibility="project")
    team.create("bob", "a-first")
    team.create("bob", "b-oncall")
    team.create("bob", "c-last")
    seen: list[tuple[str, str]] = []
    marker = None
    for _ in range(5):
        query = "?limit=2" + (f"&marker={marker}" if marker else "")
        response = team.call("bob", "GET", "/os-keypairs" + query)
        assert response.status_int == 200, response.body
        page = [
            (k["keypair"]["name"], k["keypair"]["visibility"]) for k in response.json["keypairs"]
        ]
        seen += page
        if "keypairs_links" not in response.json:
            break
        marker = page[-1][0]
    owners = sorted([("b-oncall", "private"), ("b-oncall", "project")])
    assert seen[0] == ("a-first", "private")
    assert sorted(seen[1:3]) == owners
    assert seen[3:] == [("c-last", "private")]
