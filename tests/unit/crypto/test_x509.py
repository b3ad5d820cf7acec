"""keypairs_ext.crypto.x509: the client certificate, checked with openssl; the x509 import."""

from __future__ import annotations

import base64
import datetime
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keypairs_ext import crypto
from keypairs_ext.exception import InvalidKeypair
from tests.conftest import run_program as run

USER_ID = "8f7c2a4e1b9d4f3a9c6e5d4b3a291807"


@pytest.fixture(scope="module")
def x509_pair() -> crypto.GeneratedKeypair:
    return crypto.generate_x509_keypair(USER_ID)


def test_x509_bundle_loads_with_an_empty_password(
    x509_pair: crypto.GeneratedKeypair, tmp_path: Path
) -> None:
    bundle = base64.b64decode(x509_pair.private_key, validate=True)
    assert "\n" not in x509_pair.private_key
    key, certificate, _ = pkcs12.load_key_and_certificates(bundle, b"")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert certificate is not None
    assert certificate.public_bytes(serialization.Encoding.PEM).decode() == (x509_pair.public_text)
    path = tmp_path / "bundle.p12"
    path.write_bytes(bundle)
    assert "BEGIN CERTIFICATE" in run(
        "openssl", "pkcs12", "-in", path, "-passin", "pass:", "-nokeys"
    )


def test_x509_certificate_is_a_client_certificate_for_the_user(
    x509_pair: crypto.GeneratedKeypair,
) -> None:
    certificate = x509.load_pem_x509_certificate(x509_pair.public_text.encode())
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [attribute.value for attribute in common_name] == [USER_ID]
    assert certificate.issuer == certificate.subject
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(usage.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    names = certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.OtherName)
    upn = f"{USER_ID}@localhost".encode()
    assert [(n.type_id.dotted_string, n.value) for n in names] == [
        ("1.3.6.1.4.1.311.20.2.3", b"\x0c" + bytes([len(upn)]) + upn)
    ]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=3650)


def test_x509_fingerprint_matches_openssl(
    x509_pair: crypto.GeneratedKeypair, tmp_path: Path
) -> None:
    path = tmp_path / "cert.pem"
    path.write_text(x509_pair.public_text)
    printed = run("openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", path)
    assert x509_pair.public_key.fingerprint == printed.strip().split("=", 1)[1].lower()
    assert x509_pair.public_key == crypto.parse_x509_certificate(x509_pair.public_text)
    assert (
        x509_pair.public_key.type,
        x509_pair.public_key.algorithm,
        x509_pair.public_key.bits,
    ) == ("x509", "rsa", 2048)
    assert x509_pair.public_key.fingerprint_sha256.startswith("SHA256:")


def test_x509_user_id_must_fit_a_common_name() -> None:
    assert crypto.generate_x509_keypair("u" * 64).public_key.type == "x509"
    with pytest.raises(InvalidKeypair, match="65 characters, too long"):
        crypto.generate_x509_keypair("u" * 65)
    with pytest.raises(InvalidKeypair, match="user id is empty"):
        crypto.generate_x509_keypair("")


def test_x509_fingerprint_sha256_is_over_the_der(
    x509_pair: crypto.GeneratedKeypair,
) -> None:
    der = x509.load_pem_x509_certificate(x509_pair.public_text.encode()).public_bytes(
        serialization.Encoding.DER
    )
    digest = base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert x509_pair.public_key.fingerprint_sha256 == f"SHA256:{digest}"


def test_x509_import_rejections(x509_pair: crypto.GeneratedKeypair, keygen_dir: Path) -> None:
    private = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    broken = x509_pair.public_text.replace("\n", "\nAAAA", 1)
    cases = {
        "": "certificate is empty",
        (keygen_dir / "ed25519.pub").read_text(): "must be one PEM certificate",
        x509_pair.public_text * 2: "must be one PEM certificate",
        x509_pair.public_text + "ssh-ed25519 AAAA smuggled\n": "and nothing else",
        x509_pair.public_text + private: "contains a private key",
        broken: "could not be parsed",
        "\u00e9" + x509_pair.public_text: "non-ASCII",
    }
    for text, reason in cases.items():
        with pytest.raises(InvalidKeypair, match=reason):
            crypto.parse_x509_certificate(text)
