"""X.509 certificates: Nova's x509 import and its WinRM client certificate."""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keypairs_ext.crypto.algorithms import EC_CURVES
from keypairs_ext.crypto.keys import (
    GeneratedKeypair,
    PublicKey,
    sha1_fingerprint,
    sha256_fingerprint,
)
from keypairs_ext.crypto.openssh import PEM_BEGIN
from keypairs_ext.crypto.text import MAX_CERTIFICATE_CHARS, check_length
from keypairs_ext.exception import InvalidKeypair

# ub-common-name in RFC 5280.
_MAX_CN_CHARS = 64
# Microsoft's User Principal Name, which WinRM maps to a local account.
_UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
_CERTIFICATE_DAYS = 3650
_ONE_PEM_CERTIFICATE = re.compile(
    r"[ \t\r\n]*-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+"
    r"-----END CERTIFICATE-----[ \t\r\n]*"
)

# --- import ------------------------------------------------------------------------


def _describe_key(key: object) -> tuple[str, int]:
    """(algorithm, bits) of a cryptography public key we support."""
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256
    if isinstance(key, ec.EllipticCurvePublicKey):
        for name, curve in EC_CURVES.items():
            if curve.name == key.curve.name:
                return "ecdsa-p" + name.removeprefix("nistp"), curve.key_size
    raise InvalidKeypair(
        "the certificate's key type is not supported; supported: RSA, Ed25519, "
        "ECDSA P-256/P-384/P-521"
    )


def _x509_public_key(certificate: x509.Certificate) -> PublicKey:
    try:
        algorithm, bits = _describe_key(certificate.public_key())
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKeypair("the certificate's key could not be read") from None
    der = certificate.public_bytes(serialization.Encoding.DER)
    return PublicKey(
        type="x509",
        algorithm=algorithm,
        bits=bits,
        label="",
        comment="",
        openssh_line="",
        fingerprint=sha1_fingerprint(der),
        fingerprint_sha256=sha256_fingerprint(der),
    )


def parse_x509_certificate(text: str) -> PublicKey:
    """Validate one PEM X.509 certificate, as Nova's x509 import accepts it."""
    check_length(text, MAX_CERTIFICATE_CHARS)
    if not text.strip():
        raise InvalidKeypair("the certificate is empty")
    if not text.isascii():
        raise InvalidKeypair("the certificate contains non-ASCII characters")
    labels = PEM_BEGIN.findall(text)
    if any("PRIVATE KEY" in label for label in labels):
        raise InvalidKeypair("the input contains a private key; provide only the certificate")
    if not _ONE_PEM_CERTIFICATE.fullmatch(text):
        # The text is stored and served as sent (metadata public_keys, which
        # cloud-init writes to authorized_keys): nothing may ride along.
        raise InvalidKeypair(
            "an x509 public_key must be one PEM certificate "
            "('-----BEGIN CERTIFICATE-----' ... '-----END CERTIFICATE-----') and nothing else"
        )
    try:
        certificate = x509.load_pem_x509_certificate(text.encode("ascii"))
    except ValueError:
        raise InvalidKeypair("the X.509 certificate could not be parsed") from None
    return _x509_public_key(certificate)


# --- generation (Nova's WinRM client certificate) ----------------------------------


def self_signed_certificate(
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
    common_name: str,
    days: int,
    extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A certificate for ``key`` issued by itself to ``common_name``.

    ``extensions`` are (extension, critical) pairs.
    """
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    # Ed25519 signs the message itself: no separate hash.
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, digest)


def _der_utf8_string(text: str) -> bytes:
    data = text.encode("utf-8")
    length = len(data)
    if length < 0x80:
        header = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        header = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return b"\x0c" + header + data


def _check_common_name(user_id: str) -> None:
    if not user_id:
        raise InvalidKeypair(
            f"the user id is empty; a certificate common name needs 1 to {_MAX_CN_CHARS} characters"
        )
    if len(user_id) > _MAX_CN_CHARS:
        raise InvalidKeypair(
            f"the user id is {len(user_id)} characters, too long for a certificate "
            f"common name (at most {_MAX_CN_CHARS})"
        )


def _client_certificate(key: rsa.RSAPrivateKey, user_id: str) -> x509.Certificate:
    upn = x509.OtherName(_UPN_OID, _der_utf8_string(f"{user_id}@localhost"))
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.SubjectAlternativeName([upn]), False),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
    ]
    return self_signed_certificate(key, user_id, _CERTIFICATE_DAYS, extensions)


def generate_x509_keypair(user_id: str) -> GeneratedKeypair:
    """A self-signed client-auth certificate for ``user_id``, as Nova makes.

    RSA 2048, CN = user_id, clientAuth, UPN ``<user_id>@localhost``, 10 years.
    ``private_key`` is base64 of a PKCS#12 bundle opened with an empty password.
    """
    _check_common_name(user_id)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    try:
        certificate = _client_certificate(key, user_id)
    except ValueError:
        raise InvalidKeypair("the user id cannot be written into a certificate") from None
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, certificate, None, serialization.NoEncryption()
    )
    return GeneratedKeypair(
        public_key=_x509_public_key(certificate),
        public_text=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key=base64.b64encode(bundle).decode("ascii"),
    )
