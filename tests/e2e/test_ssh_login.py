"""SSH end to end: a key from the API reaches a real sshd through the metadata service.

For a generated key of each algorithm and for an imported key: boot a server
with ``key_name``, read the metadata service as cloud-init does (signed
instance id), write ``authorized_keys`` from ``public_keys``, and log in to a
real OpenSSH ``sshd`` on a loopback port with ``ssh -i`` and the private key.
cloud-init's own OpenStack datasource does the reading and writing
(:mod:`tests.e2e.guest`).
"""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

from tests.e2e.api_process import ApiProcess
from tests.e2e.guest import Guest, Sshd, need_guest_tools

pytestmark = pytest.mark.e2e

EXTENDED = {"OpenStack-API-Version": "compute 2.91, keypairs 1.0"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    process = ApiProcess(tmp_path_factory.mktemp("api")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    need_guest_tools()
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def boot(api: ApiProcess, key_name: str, token: str = "user1:project1") -> str:
    status, body = api.request(
        "POST",
        "/servers",
        {
            "server": {
                "name": f"vm-{key_name}",
                "imageRef": "img",
                "flavorRef": "1",
                "key_name": key_name,
            }
        },
        token=token,
    )
    assert status == 202, body
    return body["server"]["id"]


def first_boot(api: ApiProcess, server_id: str, sshd: Sshd, workdir: pathlib.Path) -> Guest:
    """cloud-init's OpenStack datasource writes the sshd's authorized_keys."""
    return Guest(api, server_id, sshd, workdir).boot()


def generate(api: ApiProcess, name: str, algorithm: str | None) -> dict:
    if algorithm is None:  # the compatible default: RSA-2048, PEM
        status, body = api.request("POST", "/os-keypairs", {"keypair": {"name": name}})
        assert status == 200, body
    else:
        status, body = api.request(
            "POST",
            "/os-keypairs",
            {"keypair": {"name": name, "algorithm": algorithm}},
            version="2.91",
            headers=EXTENDED,
        )
        assert status == 201, body
    return body["keypair"]


@pytest.mark.parametrize(
    "algorithm", [None, "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa"]
)
def test_generated_key_logs_in(api, sshd, algorithm, tmp_path):
    name = f"gen-{algorithm or 'default'}"
    keypair = generate(api, name, algorithm)
    server_id = boot(api, name)
    guest = first_boot(api, server_id, sshd, tmp_path)
    assert guest.public_keys == [keypair["public_key"].strip()]
    result = sshd.login(keypair["private_key"], name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"logged-in-{name}"


def test_imported_key_logs_in_and_survives_keypair_deletion(api, sshd, tmp_path):
    key_file = tmp_path / "imported"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", str(key_file)],
        check=True,
    )
    public_key = (tmp_path / "imported.pub").read_text()
    status, body = api.request(
        "POST",
        "/os-keypairs",
        {"keypair": {"name": "imported", "public_key": public_key}},
        version="2.92",
    )
    assert status == 201, body
    server_id = boot(api, "imported")
    assert api.request("DELETE", "/os-keypairs/imported", version="2.92")[0] == 204

    # The server keeps its snapshot: the old key still arrives and still works.
    guest = first_boot(api, server_id, sshd, tmp_path / "guest")
    assert guest.authorized_keys == public_key
    assert guest.ec2_public_keys == [public_key.strip()]
    result = sshd.login(key_file.read_text(), "imported")
    assert result.returncode == 0, result.stderr
    status, ec2 = api.metadata("/latest/meta-data/public-keys/0/openssh-key", server_id)
    assert (status, ec2) == (200, public_key)


def test_a_wrong_key_is_refused_by_sshd(api, sshd, tmp_path):
    mine = generate(api, "mine-only", "ed25519")
    other = generate(api, "not-authorized", "ed25519")
    server_id = boot(api, "mine-only")
    first_boot(api, server_id, sshd, tmp_path)
    assert sshd.login(mine["private_key"], "mine").returncode == 0
    refused = sshd.login(other["private_key"], "other")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr


def test_another_users_key_never_appears(api):
    generate(api, "private-to-user1", "ed25519")
    # user2 cannot boot with user1's key name
    status, body = api.request(
        "POST",
        "/servers",
        {"server": {"name": "x", "flavorRef": "1", "key_name": "private-to-user1"}},
        token="user2:project1",
    )
    assert (status, body) == (
        400,
        {"badRequest": {"code": 400, "message": "Invalid key_name provided."}},
    )
    # and user2's own server's metadata carries only user2's key
    generate_other = api.request(
        "POST",
        "/os-keypairs",
        {"keypair": {"name": "u2key", "algorithm": "ed25519"}},
        token="user2:project1",
        version="2.91",
        headers=EXTENDED,
    )
    assert generate_other[0] == 201
    server_id = boot(api, "u2key", token="user2:project1")
    document = json.loads(api.metadata("/openstack/latest/meta_data.json", server_id)[1])
    assert list(document["public_keys"]) == ["u2key"]
