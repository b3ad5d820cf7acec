"""openstacksdk against keypairs-api through a real Keystone.

The whole keypair lifecycle (import, generate, list, get, duplicate, delete,
a server booted with ``key_name`` and its metadata) at the microversion the
sdk negotiates on its own and pinned at 2.1, 2.2, 2.10 and 2.35, on SQLite
and on a fresh PostgreSQL database; an admin acting for another user (2.10);
and paging through 250 keypairs at 2.35 with a small limit.
"""

from __future__ import annotations

import base64
import datetime
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from openstack import exceptions as sdk_exc

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
#: openstacksdk's Keypair resource goes up to 2.10 when nothing is pinned.
SDK_KEYPAIR_VERSION = "2.10"


def boot(conn: Any, key_name: str, version: str | None) -> Any:
    """A server with ``key_name``; ``networks`` only where Nova wants it (2.37+)."""
    attrs: dict[str, Any] = {"name": unique("vm"), "image_id": "img", "flavor_id": "1"}
    if version is None or microversion_at_least(version, "2.37"):
        attrs["networks"] = "none"
    return conn.compute.create_server(key_name=key_name, **attrs)


@pytest.mark.parametrize("version", [None, *PINNED], ids=["negotiated", *PINNED])
def test_lifecycle(cloud: ComputeCloud, version: str | None, tmp_path: Path) -> None:
    user = cloud.account("member")
    conn = cloud.sdk(user, version)
    expected_version = version or SDK_KEYPAIR_VERSION
    imported_name, generated_name = unique("sdk-imp"), unique("sdk-gen")
    _, public_line = ed25519_keypair("me@laptop")
    public_line += "\n"  # stored and returned exactly as sent

    # import
    imported = conn.compute.create_keypair(name=imported_name, public_key=public_line)
    assert imported.microversion == expected_version
    assert (imported.name, imported.public_key) == (imported_name, public_line)
    assert imported.fingerprint == md5_fingerprint(public_line)
    assert imported.private_key is None
    assert imported.user_id == user["user_id"]
    assert imported.type == "ssh"

    # generate: Nova's RSA default with a PEM private key that ssh-keygen reads
    generated = conn.compute.create_keypair(name=generated_name)
    assert generated.microversion == expected_version
    assert generated.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert generated.public_key.startswith("ssh-rsa ")
    assert ssh_public_key_of(generated.private_key, tmp_path) == key_fields(generated.public_key)
    assert generated.fingerprint == md5_fingerprint(generated.public_key)

    # duplicate
    with pytest.raises(sdk_exc.ConflictException) as raised:
        conn.compute.create_keypair(name=imported_name, public_key=public_line)
    assert f"Key pair '{imported_name}' already exists." in str(raised.value)

    # get
    shown = conn.compute.get_keypair(imported_name)
    assert shown.microversion == expected_version
    assert (shown.name, shown.public_key, shown.fingerprint, shown.user_id) == (
        imported_name,
        public_line,
        imported.fingerprint,
        user["user_id"],
    )
    assert shown.is_deleted is False
    datetime.datetime.strptime(shown.created_at, "%Y-%m-%dT%H:%M:%S.%f")

    # list: the user's keypairs, sorted by name, entries equal to the creates
    listed = {kp.name: kp for kp in conn.compute.keypairs()}
    assert list(listed) == sorted(listed)
    for created in (imported, generated):
        entry = listed[created.name]
        assert (entry.public_key, entry.fingerprint, entry.type) == (
            created.public_key,
            created.fingerprint,
            "ssh",
        )
        assert entry.private_key is None

    # another user (another project) sees none of them
    stranger = cloud.sdk(cloud.account("member", "kp-e2e-beta"), version)
    with pytest.raises(sdk_exc.NotFoundException):
        stranger.compute.get_keypair(imported_name)
    assert imported_name not in {kp.name for kp in stranger.compute.keypairs()}

    # a server with key_name: the view and the metadata carry it
    server = boot(conn, generated_name, version)
    assert conn.compute.get_server(server.id).key_name == generated_name
    assert metadata_public_keys(cloud, server.id) == {generated_name: generated.public_key}
    with pytest.raises(sdk_exc.BadRequestException, match="Invalid key_name provided."):
        boot(stranger, generated_name, version)

    # delete
    for name in (imported_name, generated_name):
        conn.compute.delete_keypair(name, ignore_missing=False)
        with pytest.raises(sdk_exc.NotFoundException):
            conn.compute.get_keypair(name)
        with pytest.raises(sdk_exc.NotFoundException):
            conn.compute.delete_keypair(name, ignore_missing=False)
    remaining = {kp.name for kp in conn.compute.keypairs()}
    assert not {imported_name, generated_name} & remaining

    # the server keeps its copy of the key
    assert conn.compute.get_server(server.id).key_name == generated_name
    assert metadata_public_keys(cloud, server.id) == {generated_name: generated.public_key}
    conn.compute.delete_server(server.id)


@pytest.mark.parametrize("version", ["2.2", "2.35"])
def test_x509_keypair(cloud: ComputeCloud, version: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    conn = cloud.sdk(cloud.account("member"), version)
    name = unique("sdk-x509")
    created = conn.compute.create_keypair(name=name, type="x509")
    assert created.type == "x509"
    certificate = x509.load_pem_x509_certificate(created.public_key.encode())
    key, cert, _ = pkcs12.load_key_and_certificates(base64.b64decode(created.private_key), b"")
    assert key is not None and cert == certificate
    assert conn.compute.get_keypair(name).type == "x509"
    conn.compute.delete_keypair(name, ignore_missing=False)


@pytest.mark.parametrize("version", ["2.10", "2.35"])
def test_admin_acts_for_another_user(cloud: ComputeCloud, version: str) -> None:
    member = cloud.new_account("member")
    admin = cloud.sdk(cloud.account("admin"), version)
    _, public_line = ed25519_keypair()
    name = unique("sdk-for-user")

    created = admin.compute.create_keypair(
        name=name, public_key=public_line, user_id=member["user_id"]
    )
    assert created.user_id == member["user_id"]
    assert [kp.name for kp in admin.compute.keypairs(user_id=member["user_id"])] == [name]
    assert admin.compute.get_keypair(name, user_id=member["user_id"]).user_id == member["user_id"]
    # it is the member's: they see it, the admin's own list does not
    own = cloud.sdk(member, version)
    assert [kp.name for kp in own.compute.keypairs()] == [name]
    assert name not in {kp.name for kp in admin.compute.keypairs()}

    # a member (or reader) naming another user is refused
    for role in ("member", "reader"):
        other = cloud.sdk(cloud.account(role), version)
        with pytest.raises(sdk_exc.ForbiddenException):
            list(other.compute.keypairs(user_id=member["user_id"]))
        with pytest.raises(sdk_exc.ForbiddenException):
            other.compute.create_keypair(
                name=unique("x"), public_key=public_line, user_id=member["user_id"]
            )

    admin.compute.delete_keypair(name, user_id=member["user_id"], ignore_missing=False)
    assert list(own.compute.keypairs()) == []


def test_paging_250_keypairs_at_2_35(
    cloud: ComputeCloud, paging_account: tuple[dict[str, str], list[str]]
) -> None:
    user, names = paging_account
    conn = cloud.sdk(user, "2.35")
    expected = sorted(names)
    limit = 7

    # Page by hand, following keypairs_links.
    pages: list[list[str]] = []
    url = f"/os-keypairs?limit={limit}"
    while url:
        response = conn.compute.get(url, microversion="2.35")
        assert response.status_code == 200, response.text
        body = response.json()
        page = [item["keypair"]["name"] for item in body["keypairs"]]
        pages.append(page)
        links = body.get("keypairs_links")
        if len(page) == limit:
            assert links and links[0]["rel"] == "next", body.get("keypairs_links")
            url = links[0]["href"]
            query = parse_qs(urlsplit(url).query)
            assert query == {"limit": [str(limit)], "marker": [page[-1]]}, url
        else:
            assert links is None
            url = None
    assert [len(p) for p in pages] == [limit] * (len(names) // limit) + [len(names) % limit]
    assert [name for page in pages for name in page] == expected

    # The sdk pages by itself when given a limit.
    requests_made: list[str] = []
    conn.session.session.hooks["response"].append(
        lambda response, *a, **kw: requests_made.append(response.url)
    )
    listed = [kp.name for kp in conn.compute.keypairs(limit=limit)]
    assert listed == expected
    paged = [u for u in requests_made if "/os-keypairs" in u]
    assert len(paged) >= math.ceil(len(names) / limit)
    assert all(f"limit={limit}" in u for u in paged)

    # An unknown marker is a 400.
    response = conn.compute.get("/os-keypairs?marker=no-such-key", microversion="2.35")
    assert response.status_code == 400
