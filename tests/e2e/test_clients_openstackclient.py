"""python-openstackclient as a user types it, through a real Keystone.

``openstack`` runs as a subprocess of the project's environment with only
OS_* variables (and a HOME of its own), finds the compute endpoint in the
Keystone catalog and negotiates its microversion with the host. Each command
costs seconds of start-up, so independent command sequences run side by side.

``openstack server create`` looks up images and flavors in services the
reference host does not serve; servers are booted through openstacksdk and
shown with ``openstack server show``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    ComputeCloud,
    ed25519_keypair,
    key_fields,
    md5_fingerprint,
    metadata_public_keys,
    ssh_public_key_of,
    unique,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("keystone"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]


def side_by_side(*flows: Callable[[], Any]) -> list[Any]:
    """Run command sequences concurrently; re-raise the first failure."""
    with ThreadPoolExecutor(len(flows)) as pool:
        futures = [pool.submit(flow) for flow in flows]
        return [future.result() for future in futures]


def sent_version(debug_output: str) -> set[str]:
    """The compute microversions that ``openstack --debug`` sent."""
    return set(re.findall(r'-H "OpenStack-API-Version: compute ([0-9.]+)"', debug_output))


def new_ssh_key(directory: Path, name: str) -> tuple[Path, Path]:
    private = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", str(private)],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    return private, directory / f"{name}.pub"


def test_keypair_commands(cloud: ComputeCloud, tmp_path: Path) -> None:
    user = cloud.new_account("member", prefix="kp-e2e-osc")
    generated, generated_to_file = unique("osc-gen"), unique("osc-file")
    imported = unique("osc-imp")
    private_file = tmp_path / "saved.pem"
    _, public_file = new_ssh_key(tmp_path, "laptop")
    public_line = public_file.read_text()

    def generate() -> dict[str, Any]:
        # Client-side ed25519 generation, imported at the negotiated version;
        # the private key goes to stdout.
        created = cloud.openstack(user, "--debug", "keypair", "create", generated)
        assert sent_version(created.stderr) == {"2.10"}
        assert created.stdout.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        public = ssh_public_key_of(created.stdout, tmp_path)
        shown = cloud.openstack_json(user, "keypair", "show", generated)
        return {"public": public, "shown": shown}

    def generate_to_file() -> dict[str, Any]:
        created = cloud.openstack_json(
            user, "keypair", "create", "--private-key", str(private_file), generated_to_file
        )
        return {"created": created, "public": ssh_public_key_of(private_file.read_text(), tmp_path)}

    def import_file() -> dict[str, Any]:
        created = cloud.openstack_json(
            user, "keypair", "create", "--public-key", str(public_file), imported
        )
        return {"created": created}

    gen, to_file, imp = side_by_side(generate, generate_to_file, import_file)

    assert gen["shown"]["name"] == generated
    assert gen["shown"]["fingerprint"] == md5_fingerprint(gen["public"])
    assert gen["shown"]["type"] == "ssh"
    assert gen["shown"]["user_id"] == user["user_id"]

    assert to_file["created"]["name"] == generated_to_file
    assert to_file["created"]["fingerprint"] == md5_fingerprint(to_file["public"])
    assert "private_key" not in to_file["created"] and "public_key" not in to_file["created"]

    assert imp["created"]["fingerprint"] == md5_fingerprint(public_line)
    assert imp["created"]["user_id"] == user["user_id"]
    # What the API holds (read with the sdk: every command costs seconds):
    # the public keys exactly as openstack sent them.
    sdk = cloud.sdk(user)
    assert sdk.compute.get_keypair(imported).public_key == public_line
    assert key_fields(sdk.compute.get_keypair(generated).public_key) == gen["public"]

    listed, duplicate = side_by_side(
        lambda: cloud.openstack_json(user, "keypair", "list"),
        lambda: cloud.openstack(
            user, "keypair", "create", "--public-key", str(public_file), imported, check=False
        ),
    )
    assert listed == [
        {"Name": name, "Fingerprint": fingerprint, "Type": "ssh"}
        for name, fingerprint in sorted(
            [
                (generated, gen["shown"]["fingerprint"]),
                (generated_to_file, to_file["created"]["fingerprint"]),
                (imported, imp["created"]["fingerprint"]),
            ]
        )
    ]
    assert duplicate.returncode != 0
    assert f"Key pair '{imported}' already exists." in duplicate.stderr

    deleted = cloud.openstack(user, "keypair", "delete", generated, generated_to_file, imported)
    assert deleted.stdout == ""
    assert cloud.openstack_json(user, "keypair", "list") == []
    assert list(sdk.compute.keypairs()) == []


def test_admin_uses_user_option(compute_cloud: ComputeCloud, tmp_path: Path) -> None:
    """``--user`` (a name, resolved through Keystone) at --os-compute-api-version 2.10."""
    cloud = compute_cloud
    admin = cloud.account("admin")
    owner = cloud.new_account("member", prefix="kp-e2e-osc-owner")
    name = unique("osc-for-user")
    _, public_file = new_ssh_key(tmp_path, "owner")
    v210: dict[str, Any] = {"version": "2.10"}

    created = cloud.openstack_json(
        admin, "keypair", "create", "--public-key", str(public_file),
        "--user", owner["username"], name, **v210,
    )  # fmt: skip
    assert created["user_id"] == owner["user_id"]
    assert created["fingerprint"] == md5_fingerprint(public_file.read_text())

    listed, shown, refused = side_by_side(
        lambda: cloud.openstack_json(
            admin, "keypair", "list", "--user", owner["username"], **v210
        ),
        lambda: cloud.openstack_json(
            admin, "keypair", "show", "--user", owner["username"], name, **v210
        ),
        # a member naming another user: the API says no
        lambda: cloud.openstack(
            cloud.account("member"), "keypair", "list", "--user", owner["user_id"],
            check=False, **v210,
        ),
    )  # fmt: skip
    assert [k["Name"] for k in listed] == [name]
    assert (shown["name"], shown["user_id"]) == (name, owner["user_id"])
    assert refused.returncode != 0
    assert "403" in refused.stderr
    # it is the owner's
    owner_sdk = cloud.sdk(owner)
    assert [kp.name for kp in owner_sdk.compute.keypairs()] == [name]

    cloud.openstack(admin, "keypair", "delete", "--user", owner["username"], name, **v210)
    assert list(owner_sdk.compute.keypairs()) == []


def test_server_show_carries_key_name(compute_cloud: ComputeCloud) -> None:
    cloud = compute_cloud
    user = cloud.new_account("member", prefix="kp-e2e-osc-vm")
    name = unique("osc-vm-key")
    conn = cloud.sdk(user)
    public = conn.compute.create_keypair(name=name, public_key=ed25519_keypair()[1]).public_key
    server = conn.compute.create_server(
        name=unique("vm"), image_id="img", flavor_id="1", networks="none", key_name=name
    )
    shown = cloud.openstack_json(user, "server", "show", server.id)
    assert (shown["id"], shown["key_name"], shown["status"]) == (server.id, name, "ACTIVE")
    assert metadata_public_keys(cloud, server.id) == {name: public}
    conn.compute.delete_server(server.id)


def test_list_pages_at_2_35(
    cloud: ComputeCloud, paging_account: tuple[dict[str, str], list[str]]
) -> None:
    account, names = paging_account
    listed = cloud.openstack_json(account, "keypair", "list", "--limit", "11", version="2.35")
    assert [k["Name"] for k in listed] == sorted(names)
