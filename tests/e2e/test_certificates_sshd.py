"""SSH certificates end to end: cloud-init installs the project CA, a real sshd decides.

A ``keypairs-api`` process with ``[certificates] enabled``; a server booted
with ``trust_project_ca``; cloud-init's OpenStack datasource writes the
guest's ``authorized_keys`` from the metadata service (:mod:`tests.e2e.guest`);
a real OpenSSH ``sshd`` with ``RevokedKeys`` pointing at the KRL the guest
reads from the metadata service.  ``ssh`` offers ``id_NAME`` and, when it is
there, the certificate ``id_NAME-cert.pub`` beside it.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import pathlib
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.e2e.api_process import ApiProcess
from tests.e2e.guest import Guest, MetadataProxy, Sshd, need_guest_tools

pytestmark = pytest.mark.e2e

EXTENDED = {"OpenStack-API-Version": "compute 2.92, keypairs 1.3"}
PROJECT, OTHER = "project1", "project2"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("certs-api")
    key_file = workdir / "sealing.key"
    key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    process = ApiProcess(workdir, certificates={"enabled": True, "key_file": key_file}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def krl_path(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("krl") / "revoked_keys"
    path.write_bytes(b"")
    return path


@pytest.fixture(scope="module")
def sshd(tmp_path_factory, krl_path):
    need_guest_tools()
    server = Sshd(tmp_path_factory.mktemp("certs-sshd"), extra_config=f"RevokedKeys {krl_path}\n")
    yield server
    server.stop()


def call(api: ApiProcess, method: str, path: str, body=None, token=f"alice:{PROJECT}"):
    return api.request(method, path, body, token=token, version="2.92", headers=EXTENDED)


def new_keypair(api: ApiProcess, name: str, token: str = f"alice:{PROJECT}") -> str:
    """Import a fresh ed25519 key as ``name``; its private key (OpenSSH PEM)."""
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    status, body = call(
        api,
        "POST",
        "/os-keypairs",
        {"keypair": {"name": name, "public_key": public.decode()}},
        token,
    )
    assert status == 201, body
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()


def certificate(api: ApiProcess, keypair: str, token: str = f"alice:{PROJECT}", **fields) -> dict:
    body = {"certificate": {"principals": ["ubuntu"], **fields}}
    status, answer = call(api, "POST", f"/os-keypairs/{keypair}/certificates", body, token)
    assert status == 201, answer
    return answer["certificate"]


def boot(api: ApiProcess, token: str = f"alice:{PROJECT}", **server) -> str:
    body = {"server": {"name": "vm", "imageRef": "img", "flavorRef": "1", **server}}
    status, answer = call(api, "POST", "/servers", body, token)
    assert status == 202, answer
    return answer["server"]["id"]


def login(
    sshd: Sshd, name: str, private_key: str, cert: dict | None
) -> subprocess.CompletedProcess:
    """``ssh -i id_NAME`` with the certificate beside it (or none)."""
    certificate_file = sshd.workdir / f"id_{name}-cert.pub"
    certificate_file.unlink(missing_ok=True)
    if cert is not None:
        certificate_file.write_text(cert["certificate"] + "\n")
    return sshd.login(private_key, name)


def accepted_line(sshd: Sshd, serial: int) -> str:
    for _ in range(50):
        for line in sshd.log.read_text().splitlines():
            if "Accepted publickey" in line and f"(serial {serial}) " in line:
                return line
        time.sleep(0.1)
    raise AssertionError(f"no accepted login with serial {serial} in the sshd log")


def krl_from_metadata(api: ApiProcess, server_id: str) -> bytes:
    """The KRL as a guest reads it, through the signing metadata proxy."""
    with MetadataProxy(api, server_id) as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/openstack/latest/ssh_revoked_keys")
        response = connection.getresponse()
        data = response.read()
        connection.close()
    assert response.status == 200, data
    return data


def ssh_keygen_revoked(krl: pathlib.Path, cert: dict, directory: pathlib.Path) -> bool:
    path = directory / f"check-{cert['serial']}-cert.pub"
    path.write_text(cert["certificate"] + "\n")
    result = subprocess.run(
        ["ssh-keygen", "-Q", "-f", str(krl), str(path)], capture_output=True, text=True
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 1


def test_certificates_against_a_real_sshd(api, sshd, krl_path, tmp_path):
    alice = new_keypair(api, "alice-laptop")
    server_id = boot(api, trust_project_ca=True, ca_principals=["ubuntu"])
    guest = Guest(api, server_id, sshd, tmp_path / "guest").boot()
    status, cas = call(api, "GET", "/os-ssh-certificate-authorities")
    (ca,) = cas["certificate_authorities"]
    line = f'cert-authority,principals="ubuntu" {ca["public_key"]}'
    assert guest.public_keys == [line]
    assert guest.authorized_keys.strip() == line

    # A fresh certificate for principal ubuntu logs in; sshd names it.
    fresh = certificate(api, "alice-laptop", valid_for=600)
    result = login(sshd, "alice", alice, fresh)
    assert result.returncode == 0 and "logged-in-alice" in result.stdout, result.stderr
    accepted = accepted_line(sshd, fresh["serial"])
    assert f"ID {fresh['key_id']} (serial {fresh['serial']})" in accepted
    assert ca["fingerprint_sha256"] in accepted

    # The same key without its certificate is refused.
    assert login(sshd, "alice", alice, None).returncode == 255

    # A certificate for another principal is refused.
    debian = certificate(api, "alice-laptop", principals=["debian"])
    assert login(sshd, "alice", alice, debian).returncode == 255

    # An expired certificate is refused (valid two seconds, then wait).
    short = certificate(api, "alice-laptop", valid_for=2)
    time.sleep(3.5)
    assert login(sshd, "alice", alice, short).returncode == 255

    # A certificate of another project's CA is refused, for the same key too.
    other = new_keypair(api, "bob-laptop", token=f"bob:{OTHER}")
    foreign = certificate(api, "bob-laptop", token=f"bob:{OTHER}")
    assert foreign["ca_fingerprint_sha256"] != ca["fingerprint_sha256"]
    assert login(sshd, "bob", other, foreign).returncode == 255

    # ssh-keygen -L says what the API says.
    path = tmp_path / "fresh-cert.pub"
    path.write_text(fresh["certificate"] + "\n")
    listed = subprocess.run(
        ["ssh-keygen", "-L", "-f", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert f"Serial: {fresh['serial']}" in listed
    assert f"Signing CA: ED25519 {ca['fingerprint_sha256']}" in listed
    assert f'Key ID: "{fresh["key_id"]}"' in listed

    # Revoked: the KRL the guest reads refuses it, and ssh-keygen -Q agrees with the API.
    status, revoked = call(api, "POST", f"/os-ssh-certificates/{fresh['serial']}/revoke")
    assert status == 200 and revoked["certificate"]["revoked"] is True
    krl_path.write_bytes(krl_from_metadata(api, server_id))
    assert login(sshd, "alice", alice, fresh).returncode == 255
    still_good = certificate(api, "alice-laptop", valid_for=600)
    assert login(sshd, "alice", alice, still_good).returncode == 0
    status, listing = call(api, "GET", "/os-ssh-certificates?keypair_name=alice-laptop")
    for cert in listing["certificates"]:
        assert ssh_keygen_revoked(krl_path, cert, tmp_path) is cert["revoked"], cert["serial"]

    # Revoking the key refuses every certificate of it.
    status, _ = call(
        api, "POST", "/os-ssh-revoked-keys", {"revoked_key": {"keypair_name": "alice-laptop"}}
    )
    assert status == 201
    krl_path.write_bytes(krl_from_metadata(api, server_id))
    assert login(sshd, "alice", alice, still_good).returncode == 255
    assert ssh_keygen_revoked(krl_path, still_good, tmp_path)
    krl_path.write_bytes(b"")


def test_rotation_overlap_then_retirement(api, sshd, krl_path, tmp_path):
    token = f"carol:{PROJECT}"
    carol = new_keypair(api, "carol-laptop", token=token)
    old_cert = certificate(api, "carol-laptop", token=token, valid_for=600)
    status, created = call(
        api,
        "POST",
        "/os-ssh-certificate-authorities",
        {"certificate_authority": {}},
        f"admin:{PROJECT}",
    )
    assert status == 201, created
    server_id = boot(api, token=token, trust_project_ca=True, ca_principals=["ubuntu"])
    guest = Guest(api, server_id, sshd, tmp_path / "guest").boot()
    assert len(guest.public_keys) == 2  # old and new CA, during the overlap
    new_cert = certificate(api, "carol-laptop", token=token, valid_for=600)
    assert new_cert["ca_id"] == created["certificate_authority"]["id"]
    assert login(sshd, "carol", carol, old_cert).returncode == 0
    assert login(sshd, "carol", carol, new_cert).returncode == 0

    status, _ = call(
        api,
        "POST",
        f"/os-ssh-certificate-authorities/{old_cert['ca_id']}/retire",
        None,
        f"admin:{PROJECT}",
    )
    assert status == 200
    krl_path.write_bytes(krl_from_metadata(api, server_id))
    assert login(sshd, "carol", carol, old_cert).returncode == 255
    assert login(sshd, "carol", carol, new_cert).returncode == 0
    assert ssh_keygen_revoked(krl_path, old_cert, tmp_path)
    assert not ssh_keygen_revoked(krl_path, new_cert, tmp_path)
    krl_path.write_bytes(b"")
    assert json.dumps(guest.public_keys)  # what cloud-init found stays as it was
