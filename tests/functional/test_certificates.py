"""SSH certificates (keypairs 1.3): CAs, issuance, revocation and the KRL, on both backends.

Certificates are read back with the real ``ssh-keygen -L`` and the KRL with
``ssh-keygen -Q``; the sshd logins are in tests/e2e/test_certificates_sshd.py.
"""

from __future__ import annotations

import datetime
import re
import subprocess
import time

import pytest

from tests.conftest import Client, fault, need_program
from tests.functional.certificates_helpers import (
    EXTENDED,
    Project,
    call,
    cert_host,
    import_key,
    issue,
    new_key,
    ssh_keygen_list,
)

__all__ = ["cert_host"]


@pytest.fixture
def project(cert_host):
    return Project(cert_host.api)


@pytest.fixture(autouse=True)
def _ssh_keygen():
    need_program("ssh-keygen", "openssh-client")


def _parse_instant(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def test_issued_certificate_is_what_was_asked_for(project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "id_alice")
    import_key(alice, "laptop", public)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    response = issue(
        alice,
        "laptop",
        principals=["ubuntu", "debian"],
        valid_for=3600,
        extensions=["permit-pty", "permit-port-forwarding"],
        source_address=["192.0.2.0/24", "2001:db8::1"],
    )
    assert response.status_int == 201, response.text
    cert = response.json["certificate"]
    assert cert["principals"] == ["ubuntu", "debian"]
    alice_id = project.user("alice")
    assert cert["key_id"] == f"user={alice_id} project={project.id} keypair=laptop"
    assert cert["user_id"] == alice_id and cert["requested_by"] == alice_id
    assert cert["revoked"] is False and cert["revoked_at"] is None
    after = _parse_instant(cert["valid_before"])
    start = _parse_instant(cert["valid_after"])
    assert before + datetime.timedelta(seconds=3600) <= after <= before + datetime.timedelta(3602)
    assert after - start == datetime.timedelta(seconds=3600 + 30)  # the clock skew allowance
    assert cert["certificate"].startswith("ssh-ed25519-cert-v01@openssh.com ")

    listed = ssh_keygen_list(cert["certificate"], tmp_path)
    assert "Type: ssh-ed25519-cert-v01@openssh.com user certificate" in listed
    assert f"Serial: {cert['serial']}" in listed
    assert f'Key ID: "{cert["key_id"]}"' in listed
    principals = re.search(r"Principals: \n((?:\s+\S+\n)+)", listed)
    assert principals and principals.group(1).split() == ["ubuntu", "debian"]
    assert f"Public key: ED25519-CERT {cert['fingerprint_sha256']}" in listed
    assert f"Signing CA: ED25519 {cert['ca_fingerprint_sha256']}" in listed
    local = _to_local(start), _to_local(after)
    assert f"Valid: from {local[0]} to {local[1]}" in listed
    assert re.search(
        r"Critical Options: \n\s+source-address 192.0.2.0/24,2001:db8::1/128\n", listed
    )
    extensions = re.search(r"Extensions: \n((?:\s+\S+\n)+)", listed)
    assert extensions and extensions.group(1).split() == ["permit-port-forwarding", "permit-pty"]


def _to_local(moment: datetime.datetime) -> str:
    # ssh-keygen -L prints local time
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def test_the_ca_is_created_on_first_use_and_its_public_key_is_readable(project, tmp_path):
    alice, bob = project.client("alice"), project.client("bob")
    listed = call(bob, "GET", "/v2.1/os-ssh-certificate-authorities")
    assert listed.status_int == 200 and listed.json == {"certificate_authorities": []}
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    cert = issue(alice, "k").json["certificate"]
    (ca,) = call(bob, "GET", "/v2.1/os-ssh-certificate-authorities").json["certificate_authorities"]
    assert ca["id"] == cert["ca_id"]
    assert ca["fingerprint_sha256"] == cert["ca_fingerprint_sha256"]
    assert ca["algorithm"] == "ed25519" and ca["status"] == "active" and ca["signing"] is True
    assert ca["public_key"].startswith("ssh-ed25519 ")
    assert "private" not in str(ca).lower()
    line = tmp_path / "ca.pub"
    line.write_text(ca["public_key"] + "\n")
    shown = subprocess.run(["ssh-keygen", "-lf", str(line)], capture_output=True, text=True)
    assert shown.stdout.split()[1] == ca["fingerprint_sha256"]
    other = Project(project.app)
    assert call(other.client(), "GET", "/v2.1/os-ssh-certificate-authorities").json == {
        "certificate_authorities": []
    }
    missing = call(other.client(), "GET", f"/v2.1/os-ssh-certificate-authorities/{ca['id']}")
    assert missing.status_int == 404


def test_principals_outside_the_allowed_list_are_refused_for_users(project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    response = issue(alice, "k", principals=["ubuntu", "root"])
    assert fault(response) == (
        "forbidden",
        403,
        "Principal(s) root may not be asked for here; this cloud allows "
        "ubuntu, debian, cloud-user, fedora, centos, ec2-user.",
    )


def test_validity_is_bounded(project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    too_long = issue(alice, "k", valid_for=86401)
    assert fault(too_long) == (
        "badRequest",
        400,
        "valid_for 86401 is longer than this cloud's maximum of 86400 seconds.",
    )
    zero = issue(alice, "k", valid_for=0)
    assert fault(zero)[1] == 400 and "valid_for" in fault(zero)[2]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"certificate": {}}, "'principals' is a required property"),
        ({"certificate": {"principals": []}}, "certificate/principals"),
        ({"certificate": {"principals": ['ub"untu']}}, "certificate/principals/0"),
        ({"certificate": {"principals": ["a,b"]}}, "certificate/principals/0"),
        ({"certificate": {"principals": ["ubuntu"], "serial": 5}}, "'serial' was unexpected"),
        ({"certificate": {"principals": ["ubuntu"], "extensions": ["x"]}}, "extensions/0"),
        (
            {"certificate": {"principals": ["ubuntu"], "source_address": ["not-an-ip"]}},
            "Expected an IP address or network in CIDR form.",
        ),
    ],
)
def test_bad_requests_are_400(project, tmp_path, body, message):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    response = call(alice, "POST", "/v2.1/os-keypairs/k/certificates", body)
    name, code, text = fault(response)
    assert (name, code) == ("badRequest", 400) and message in text


def test_only_the_owner_gets_a_certificate_for_a_keypair(project, tmp_path):
    alice, bob = project.client("alice"), project.client("bob")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    response = issue(bob, "k")
    assert fault(response) == (
        "itemNotFound",
        404,
        f"Keypair k not found for user {project.user('bob')}",
    )


def test_members_get_certificates_for_a_key_shared_with_the_project(project, tmp_path):
    alice, bob = project.client("alice"), project.client("bob")
    reader = Client(project.app, f"{project.user('rita')}:{project.id}:reader")
    _, public = new_key(tmp_path, "team")
    shared = {"keypair": {"name": "team", "public_key": public, "visibility": "project"}}
    assert call(alice, "POST", "/v2.1/os-keypairs", shared).status_int == 201
    response = issue(bob, "team")
    assert response.status_int == 201, response.text
    listed = ssh_keygen_list(response.json["certificate"]["certificate"], tmp_path)
    assert re.search(r"Public key: ED25519-CERT SHA256:", listed)
    assert "ubuntu" in listed
    assert fault(issue(reader, "team"))[:2] == ("forbidden", 403)
    other = Project(project.app).client("eve")
    assert fault(issue(other, "team"))[:2] == ("itemNotFound", 404)


def test_routes_need_keypairs_1_3(project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    for version in ("compute 2.92, keypairs 1.0", "compute 2.92"):
        response = call(alice, "POST", "/v2.1/os-keypairs/k/certificates", {}, version=version)
        assert response.status_int == 404, response.text
        krl = call(alice, "GET", "/v2.1/os-ssh-krl", version=version)
        assert krl.status_int == 404


def test_every_issuance_is_recorded_without_secrets(project, tmp_path):
    alice, bob = project.client("alice"), project.client("bob")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    serials = [issue(alice, "k", valid_for=60 * n).json["certificate"]["serial"] for n in (1, 2)]
    assert serials[1] > serials[0] > 0
    listed = call(bob, "GET", "/v2.1/os-ssh-certificates").json["certificates"]
    assert [c["serial"] for c in listed] == serials
    assert {c["requested_by"] for c in listed} == {project.user("alice")}
    shown = call(bob, "GET", f"/v2.1/os-ssh-certificates/{serials[1]}").json["certificate"]
    assert shown == listed[1]
    paged = call(bob, "GET", "/v2.1/os-ssh-certificates?limit=1").json
    assert [c["serial"] for c in paged["certificates"]] == serials[:1]
    assert paged["certificates_links"][0]["href"].endswith(f"limit=1&marker={serials[0]}")
    other = Project(project.app).client()
    assert call(other, "GET", f"/v2.1/os-ssh-certificates/{serials[0]}").status_int == 404
    assert call(other, "GET", "/v2.1/os-ssh-certificates").json == {"certificates": []}


def test_revocation_reaches_the_krl_that_ssh_keygen_reads(project, tmp_path):
    alice, bob = project.client("alice"), project.client("bob")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    certs = [issue(alice, "k").json["certificate"] for _ in range(3)]
    files = []
    for index, cert in enumerate(certs):
        path = tmp_path / f"c{index}-cert.pub"
        path.write_text(cert["certificate"] + "\n")
        files.append(path)

    def revoked() -> list[bool]:
        response = call(alice, "GET", "/v2.1/os-ssh-krl")
        assert response.status_int == 200
        assert response.content_type == "application/octet-stream"
        krl = tmp_path / "krl"
        krl.write_bytes(response.body)
        return [
            subprocess.run(
                ["ssh-keygen", "-Q", "-f", str(krl), str(f)], capture_output=True, text=True
            ).returncode
            != 0
            for f in files
        ]

    assert revoked() == [False, False, False]
    refused = call(bob, "POST", f"/v2.1/os-ssh-certificates/{certs[1]['serial']}/revoke")
    assert fault(refused)[1] == 403
    done = call(alice, "POST", f"/v2.1/os-ssh-certificates/{certs[1]['serial']}/revoke")
    assert done.status_int == 200 and done.json["certificate"]["revoked"] is True
    assert revoked() == [False, True, False]
    admin = project.admin()
    again = call(admin, "POST", f"/v2.1/os-ssh-certificates/{certs[1]['serial']}/revoke")
    assert again.json["certificate"]["revoked_at"] == done.json["certificate"]["revoked_at"]

    key = call(alice, "POST", "/v2.1/os-ssh-revoked-keys", {"revoked_key": {"keypair_name": "k"}})
    assert key.status_int == 201, key.text
    assert key.json["revoked_key"]["fingerprint_sha256"] == certs[0]["fingerprint_sha256"]
    assert revoked() == [True, True, True]
    listed = call(bob, "GET", "/v2.1/os-ssh-revoked-keys").json["revoked_keys"]
    assert [k["fingerprint_sha256"] for k in listed] == [certs[0]["fingerprint_sha256"]]
    twice = call(alice, "POST", "/v2.1/os-ssh-revoked-keys", {"revoked_key": {"keypair_name": "k"}})
    assert twice.status_int == 200


def test_revoking_any_public_key_is_for_admins(project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "stray")
    body = {"revoked_key": {"public_key": public, "reason": "laptop stolen"}}
    assert fault(call(alice, "POST", "/v2.1/os-ssh-revoked-keys", body))[1] == 403
    done = call(project.admin(), "POST", "/v2.1/os-ssh-revoked-keys", body)
    assert done.status_int == 201 and done.json["revoked_key"]["reason"] == "laptop stolen"
    key_file = tmp_path / "stray.pub"
    key_file.write_text(public + "\n")
    krl = tmp_path / "krl"
    krl.write_bytes(call(alice, "GET", "/v2.1/os-ssh-krl").body)
    result = subprocess.run(
        ["ssh-keygen", "-Q", "-f", str(krl), str(key_file)], capture_output=True
    )
    assert result.returncode != 0


def test_rotation_adds_a_ca_and_retirement_revokes_the_old_one(project, tmp_path):
    alice, admin = project.client("alice"), project.admin()
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    old_cert = issue(alice, "k").json["certificate"]
    refused = call(
        alice, "POST", "/v2.1/os-ssh-certificate-authorities", {"certificate_authority": {}}
    )
    assert fault(refused)[1] == 403
    created = call(
        admin,
        "POST",
        "/v2.1/os-ssh-certificate-authorities",
        {"certificate_authority": {"algorithm": "ecdsa-p256"}},
    )
    assert created.status_int == 201, created.text
    new_ca = created.json["certificate_authority"]
    assert new_ca["generation"] == 2 and new_ca["public_key"].startswith("ecdsa-sha2-nistp256 ")
    cas = call(alice, "GET", "/v2.1/os-ssh-certificate-authorities").json["certificate_authorities"]
    assert [(c["generation"], c["signing"], c["status"]) for c in cas] == [
        (1, False, "active"),
        (2, True, "active"),
    ]
    new_cert = issue(alice, "k").json["certificate"]
    assert new_cert["ca_id"] == new_ca["id"]
    assert new_cert["certificate"].startswith("ssh-ed25519-cert-v01@openssh.com ")
    assert "Signing CA: ECDSA " in ssh_keygen_list(new_cert["certificate"], tmp_path)

    retired = call(
        admin, "POST", f"/v2.1/os-ssh-certificate-authorities/{old_cert['ca_id']}/retire"
    )
    assert (
        retired.status_int == 200 and retired.json["certificate_authority"]["status"] == "retired"
    )
    krl = tmp_path / "krl"
    krl.write_bytes(call(alice, "GET", "/v2.1/os-ssh-krl").body)
    for cert, revoked in ((old_cert, True), (new_cert, False)):
        path = tmp_path / f"{cert['serial']}-cert.pub"
        path.write_text(cert["certificate"] + "\n")
        result = subprocess.run(
            ["ssh-keygen", "-Q", "-f", str(krl), str(path)], capture_output=True
        )
        assert (result.returncode != 0) is revoked, cert["serial"]


def test_extension_record_advertises_1_3(project):
    response = call(project.client(), "GET", "/v2.1/extensions/os-keypairs")
    assert response.json["extension"]["contract"]["max_version"] == "1.3"
    assert EXTENDED.endswith("1.3")


def test_a_certificate_never_outlives_its_key(project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    body = {"keypair": {"name": "short", "public_key": public, "expires_in": 120}}
    created = call(alice, "POST", "/v2.1/os-keypairs", body)
    assert created.status_int == 201, created.text
    expires_at = created.json["keypair"]["expires_at"]
    too_long = issue(alice, "short", valid_for=3600)
    assert fault(too_long) == (
        "badRequest",
        400,
        f"Key pair 'short' expires at {expires_at}, before the certificate would; "
        "ask for a shorter valid_for.",
    )
    assert issue(alice, "short", valid_for=60).status_int == 201


def test_an_expired_key_gets_no_certificate(project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    body = {"keypair": {"name": "gone", "public_key": public, "expires_in": 1}}
    expires_at = call(alice, "POST", "/v2.1/os-keypairs", body).json["keypair"]["expires_at"]
    time.sleep(2.1)
    assert fault(issue(alice, "gone")) == (
        "badRequest",
        400,
        f"Key pair 'gone' expired at {expires_at} and cannot be certified.",
    )
