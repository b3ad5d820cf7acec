"""python-novaclient against keypairs-api through a real Keystone.

The keypair lifecycle at the version novaclient negotiates with the host
(``discover_version`` of ``2.latest``, as the ``nova`` shell does: 2.92 here,
where keys must be imported) and pinned at 2.1, 2.2, 2.10 and 2.35, on SQLite
and PostgreSQL; an admin acting for another user; paging at 2.35.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from novaclient import api_versions
from novaclient import exceptions as nova_exc

from tests.e2e.conftest import (
    ComputeCloud,
    ed25519_keypair,
    key_fields,
    md5_fingerprint,
    metadata_public_keys,
    ssh_public_key_of,
    unique,
)
from tests.support import microversion_at_least

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("keystone"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]

PINNED = ("2.1", "2.2", "2.10", "2.35")
HOST_MAX = "2.92"


def negotiated(cloud: ComputeCloud, account: dict[str, str]) -> str:
    probe = cloud.nova(account, "2.1")
    return api_versions.discover_version(probe, api_versions.APIVersion("2.latest")).get_string()


def boot(nova: Any, key_name: str) -> Any:
    kwargs: dict[str, Any] = {"key_name": key_name}
    if microversion_at_least(nova.api_version.get_string(), "2.37"):
        kwargs["nics"] = "none"
    return nova.servers.create(unique("vm"), "img", "1", **kwargs)


def test_negotiates_the_hosts_maximum(cloud: ComputeCloud) -> None:
    assert negotiated(cloud, cloud.account("reader")) == HOST_MAX


@pytest.mark.parametrize("version", [None, *PINNED], ids=["negotiated", *PINNED])
def test_lifecycle(cloud: ComputeCloud, version: str | None, tmp_path: Path) -> None:
    user = cloud.account("member")
    version = version or negotiated(cloud, user)
    nova = cloud.nova(user, version)
    # 2.92 allows "@" and "." in names
    imported_name = unique(
        "nova@imp.example" if microversion_at_least(version, "2.92") else "nova-imp"
    )
    _, public_line = ed25519_keypair("me@laptop")

    imported = nova.keypairs.create(imported_name, public_key=public_line)
    assert imported.api_version.get_string() == version
    assert (imported.name, imported.public_key) == (imported_name, public_line)
    assert imported.fingerprint == md5_fingerprint(public_line)
    assert imported.user_id == user["user_id"]
    assert not hasattr(imported, "private_key")
    assert getattr(imported, "type", None) == (
        "ssh" if microversion_at_least(version, "2.2") else None
    )

    names = [imported_name]
    if microversion_at_least(version, "2.92"):
        # no server-side generation any more: the raw request is refused
        with pytest.raises(nova_exc.BadRequest):
            nova.client.post("/os-keypairs", body={"keypair": {"name": unique("gen")}})
        generated = imported
    else:
        generated = nova.keypairs.create(unique("nova-gen"))
        names.append(generated.name)
        assert generated.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
        assert ssh_public_key_of(generated.private_key, tmp_path) == key_fields(
            generated.public_key
        )
        assert generated.fingerprint == md5_fingerprint(generated.public_key)

    with pytest.raises(nova_exc.Conflict):
        nova.keypairs.create(imported_name, public_key=public_line)

    shown = nova.keypairs.get(imported_name)
    assert (shown.name, shown.public_key, shown.fingerprint, shown.user_id) == (
        imported_name,
        public_line,
        imported.fingerprint,
        user["user_id"],
    )
    assert shown.deleted is False and shown.deleted_at is None and shown.updated_at is None
    assert isinstance(shown._info["id"], int)  # (novaclient's .id is the name)
    datetime.datetime.strptime(shown.created_at, "%Y-%m-%dT%H:%M:%S.%f")

    listed = [kp.name for kp in nova.keypairs.list()]
    assert listed == sorted(listed)
    assert set(names) <= set(listed)

    stranger = cloud.nova(cloud.account("member", "kp-e2e-beta"), version)
    with pytest.raises(nova_exc.NotFound):
        stranger.keypairs.get(imported_name)
    with pytest.raises(nova_exc.BadRequest, match="Invalid key_name provided."):
        boot(stranger, generated.name)

    server = boot(nova, generated.name)
    assert nova.servers.get(server.id).key_name == generated.name
    assert metadata_public_keys(cloud, server.id) == {generated.name: generated.public_key}

    for name in names:
        nova.keypairs.delete(name)
        with pytest.raises(nova_exc.NotFound):
            nova.keypairs.get(name)
        with pytest.raises(nova_exc.NotFound):
            nova.keypairs.delete(name)
    assert not set(names) & {kp.name for kp in nova.keypairs.list()}

    assert nova.servers.get(server.id).key_name == generated.name
    nova.servers.delete(server.id)


@pytest.mark.parametrize("version", ["2.10", "2.35", None], ids=["2.10", "2.35", "negotiated"])
def test_admin_acts_for_another_user(cloud: ComputeCloud, version: str | None) -> None:
    admin_account = cloud.account("admin", "kp-e2e-beta")
    version = version or negotiated(cloud, admin_account)
    member = cloud.new_account("member")
    admin = cloud.nova(admin_account, version)
    name = unique("nova-for-user")
    _, public_line = ed25519_keypair()

    created = admin.keypairs.create(name, public_key=public_line, user_id=member["user_id"])
    assert created.user_id == member["user_id"]
    assert [kp.name for kp in admin.keypairs.list(user_id=member["user_id"])] == [name]
    assert admin.keypairs.get(name, user_id=member["user_id"]).user_id == member["user_id"]
    assert [kp.name for kp in cloud.nova(member, version).keypairs.list()] == [name]

    reader = cloud.nova(cloud.account("reader"), version)
    with pytest.raises(nova_exc.Forbidden):
        reader.keypairs.list(user_id=member["user_id"])

    admin.keypairs.delete(name, user_id=member["user_id"])
    assert cloud.nova(member, version).keypairs.list() == []


def test_paging_250_keypairs_at_2_35(
    cloud: ComputeCloud, paging_account: tuple[dict[str, str], list[str]]
) -> None:
    account, names = paging_account
    nova = cloud.nova(account, "2.35")
    limit = 9
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        page = [kp.name for kp in nova.keypairs.list(marker=marker, limit=limit)]
        pages += 1
        assert len(page) <= limit
        seen.extend(page)
        if len(page) < limit:
            break
        marker = page[-1]
    assert seen == sorted(names)
    assert pages == len(names) // limit + 1

    # Before 2.35 there is no paging: one list of everything.
    assert [kp.name for kp in cloud.nova(account, "2.34").keypairs.list()] == sorted(names)
