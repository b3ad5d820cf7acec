"""Team keys end to end (keypairs 1.2): three keys, real cloud-init, real sshd.

Alice and Bob, two users of one project, each import a key; Alice imports
the on-call team's key and shares it with the project.  Bob boots a server
with ``key_names`` naming his own key, Alice's (shared too) and the team's.
cloud-init's OpenStack datasource writes ``authorized_keys`` from the
metadata service, and a real sshd lets each of the three private keys in;
a key of another project, which Bob cannot name, is refused at boot and by
sshd.
"""

from __future__ import annotations

import pathlib
import subprocess

import pytest

from tests.e2e.api_process import ApiProcess
from tests.e2e.guest import Guest, Sshd, need_guest_tools

pytestmark = pytest.mark.e2e

V12 = {"OpenStack-API-Version": "compute 2.92, keypairs 1.2"}
ALICE = "alice:team"
BOB = "bob:team"
EVE = "eve:elsewhere"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    process = ApiProcess(tmp_path_factory.mktemp("api")).start()
    yield process
    process.stop()


def keygen(directory: pathlib.Path, name: str) -> tuple[str, str]:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
    )
    return path.read_text(), (directory / f"{name}.pub").read_text().strip()


def register(api: ApiProcess, token: str, name: str, public_key: str, **fields: str) -> dict:
    body = {"keypair": {"name": name, "public_key": public_key, **fields}}
    status, answer = api.request("POST", "/os-keypairs", body, token=token, headers=V12)
    assert status == 201, answer
    return answer["keypair"]


def test_each_of_three_keys_logs_in_and_another_projects_key_does_not(api, tmp_path):
    need_guest_tools()
    keys = {name: keygen(tmp_path, name) for name in ("alice", "bob", "oncall", "eve")}
    register(api, ALICE, "alice-laptop", keys["alice"][1], visibility="project")
    register(api, BOB, "bob-laptop", keys["bob"][1])
    register(api, ALICE, "oncall", keys["oncall"][1], visibility="project")
    register(api, EVE, "eve-laptop", keys["eve"][1], visibility="project")

    server = {
        "name": "bastion",
        "imageRef": "img",
        "flavorRef": "1",
        "key_names": ["bob-laptop", "alice-laptop", "oncall"],
    }
    status, answer = api.request("POST", "/servers", {"server": server}, token=BOB, headers=V12)
    assert status == 202, answer
    server_id = answer["server"]["id"]
    # Eve's key is shared with her own project, not Bob's: he cannot name it.
    refused = dict(server, key_names=["bob-laptop", "eve-laptop"])
    status, answer = api.request("POST", "/servers", {"server": refused}, token=BOB, headers=V12)
    assert status == 400, answer
    assert "Key pair 'eve-laptop' not found" in answer["badRequest"]["message"]

    sshd = Sshd(tmp_path / "sshd")
    try:
        guest = Guest(api, server_id, sshd, tmp_path / "guest").boot()
        expected = [keys[n][1] for n in ("bob", "alice", "oncall")]
        assert guest.public_keys == expected
        assert guest.ec2_public_keys == expected
        assert guest.authorized_keys.splitlines() == expected
        for name in ("bob", "alice", "oncall"):
            result = guest.login(keys[name][0], name)
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == f"logged-in-{name}"
        refused_login = guest.login(keys["eve"][0], "eve")
        assert refused_login.returncode == 255, refused_login.stdout
        assert "Permission denied" in refused_login.stderr
    finally:
        sshd.stop()
