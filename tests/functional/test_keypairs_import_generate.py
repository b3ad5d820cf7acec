"""Import and generation through the API, checked with the tools users run.

Fingerprints are compared with ``ssh-keygen -l -E md5``; generated private
keys are opened with ``ssh-keygen -y`` (SSH) or as PKCS#12 (x509).
"""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import (
    KEY_FACTORIES,
    KeypairsAPI,
    expect_fault,
    key_part,
    md5_fingerprint,
    sha1_fingerprint,
    ssh_keygen_md5,
    ssh_keygen_public,
    x509_certificate,
)

shared_host = helpers.shared_host
api = helpers.api


@pytest.mark.parametrize("label", list(KEY_FACTORIES))
def test_every_supported_key_type_imports(api: KeypairsAPI, label: str) -> None:
    api = api.at("2.2")
    public_key = KEY_FACTORIES[label]()
    created = api.create("kp", public_key)
    assert created["public_key"] == public_key
    assert created["type"] == "ssh"
    assert created["fingerprint"] == ssh_keygen_md5(public_key)
    assert api.show("kp")["fingerprint"] == created["fingerprint"]


def test_fingerprint_is_of_the_blob_whatever_the_whitespace(api: KeypairsAPI) -> None:
    label, blob = helpers.ed25519_line().split()
    sent = f"{label} \t  {blob}\t\tcomment  with spaces\n"
    created = api.create("kp", sent)
    assert created["public_key"] == sent
    assert created["fingerprint"] == ssh_keygen_md5(f"{label} {blob}")


@pytest.mark.parametrize("version", ["2.1", "2.2"])
def test_generated_rsa_key_is_what_nova_clients_expect(api: KeypairsAPI, version: str) -> None:
    created = api.at(version).generate("kp")
    private_key = created["private_key"]
    assert private_key.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert private_key.rstrip().endswith("-----END RSA PRIVATE KEY-----")
    public_key = created["public_key"]
    assert public_key.startswith("ssh-rsa ")
    assert ssh_keygen_public(private_key) == key_part(public_key)
    assert created["fingerprint"] == ssh_keygen_md5(public_key)


def test_generation_algorithm_is_configurable(make_host) -> None:
    host = make_host(keypairs__generation_algorithm="ed25519")
    created = KeypairsAPI(host.api, version="2.2").generate("kp")
    assert created["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert created["public_key"].startswith("ssh-ed25519 ")
    assert ssh_keygen_public(created["private_key"]) == key_part(created["public_key"])
    assert created["fingerprint"] == ssh_keygen_md5(created["public_key"])


def test_private_key_is_returned_once(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    created = api.generate("kp")
    body = api.request("GET").text + api.request("GET", "kp").text
    assert "private_key" not in body
    assert created["private_key"].splitlines()[1] not in body


def test_x509_import(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    certificate = x509_certificate()
    created = api.create("cert", certificate, type="x509")
    assert created == {
        "name": "cert",
        "public_key": certificate,
        "fingerprint": sha1_fingerprint(certificate),
        "user_id": api.user,
        "type": "x509",
    }
    assert api.list()["keypairs"] == [
        {"keypair": {k: v for k, v in created.items() if k != "user_id"}}
    ]
    assert api.show("cert")["type"] == "x509"


def test_x509_generate(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    created = api.generate("cert", type="x509")
    assert created["type"] == "x509"
    certificate = x509.load_pem_x509_certificate(created["public_key"].encode())
    assert created["fingerprint"] == sha1_fingerprint(created["public_key"])
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (api.user)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    key, bundled, _ = pkcs12.load_key_and_certificates(
        base64.b64decode(created["private_key"]), b""
    )
    assert bundled == certificate
    assert key.public_key() == certificate.public_key()


def test_x509_needs_2_2(api: KeypairsAPI) -> None:
    response = api.post({"name": "c", "public_key": x509_certificate(), "type": "x509"})
    expect_fault(response, 400, "('type' was unexpected)")


def test_type_must_match_the_key(api: KeypairsAPI) -> None:
    api = api.at("2.2")
    ssh_as_x509 = api.post({"name": "a", "public_key": helpers.ed25519_line(), "type": "x509"})
    expect_fault(
        ssh_as_x509, 400, "Keypair data is invalid: an x509 public_key must be one PEM certificate"
    )
    x509_as_ssh = api.post({"name": "b", "public_key": x509_certificate()})
    expect_fault(x509_as_ssh, 400, "this is an X.509 certificate, not an SSH public key")
    assert api.names() == []


def test_x509_generation_refuses_a_user_id_too_long_for_a_certificate(
    api: KeypairsAPI,
) -> None:
    admin = api.as_admin().at("2.10")
    long_user = "u" * 65
    response = admin.post({"name": "cert", "type": "x509", "user_id": long_user})
    expect_fault(response, 400, "too long for a certificate common name")
    assert admin.names({"user_id": long_user}) == []


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.91"])
def test_generation_can_be_switched_off(make_host, version: str) -> None:
    api = KeypairsAPI(make_host(keypairs__allow_generation=False).api, version=version)
    message = "this cloud does not generate key pairs; import a public_key instead"
    expect_fault(api.post({"name": "kp"}), 400, message)
    if version != "2.1":
        expect_fault(api.post({"name": "kp", "type": "x509"}), 400, message)
    assert api.create("kp")["name"] == "kp"
    assert api.names() == ["kp"]


def test_min_rsa_bits_is_configurable(make_host) -> None:
    api = KeypairsAPI(make_host(keypairs__min_rsa_bits=3072).api)
    response = api.post({"name": "kp", "public_key": helpers.rsa_line(2048)})
    expect_fault(response, 400, "2048 bits")
    assert api.names() == []


def test_allowed_types_is_configurable(make_host) -> None:
    api = KeypairsAPI(make_host(keypairs__allowed_types=["ssh-ed25519"]).api, version="2.2")
    assert api.create("ed")["name"] == "ed"
    expect_fault(
        api.post({"name": "ec", "public_key": helpers.ecdsa_line(256)}),
        400,
        "key type ecdsa-sha2-nistp256 is not allowed here",
    )
    expect_fault(
        api.post({"name": "c", "public_key": x509_certificate(), "type": "x509"}),
        400,
        "x509 certificates are not allowed",
    )
    assert api.names() == ["ed"]


def test_admin_generates_for_another_user(api: KeypairsAPI) -> None:
    admin = api.as_admin().at("2.10")
    created = admin.generate("kp", user_id=api.user)
    assert created["user_id"] == api.user
    assert api.at("2.10").show("kp")["fingerprint"] == md5_fingerprint(created["public_key"])
