"""OpenSSH user certificates (PROTOCOL.certkeys), signed by a CA key.

The encoding is cryptography's ``SSHCertificateBuilder``; this module
chooses what goes into a certificate and generates and reads CA keys.
Pure functions: no configuration, no database.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from keypairs_ext.crypto.generation import new_private_key
from keypairs_ext.crypto.keys import sha256_fingerprint

#: CA key algorithms, as the extended contract names them
CA_ALGORITHMS = ("ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa")
CA_RSA_BITS = 4096

#: the extensions OpenSSH defines for user certificates (PROTOCOL.certkeys)
STANDARD_EXTENSIONS = (
    "no-touch-required",
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
)

#: key types a certificate can be issued for; FIDO (sk-*) keys are not among
#: them: their certificates carry the security key's application string,
#: which the library that signs here does not encode
CERTIFIABLE_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)

CAPrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateError(ValueError):
    """A certificate that cannot be made from what was asked; the message says why."""


def generate_ca_key(algorithm: str) -> CAPrivateKey:
    if algorithm not in CA_ALGORITHMS:
        raise CertificateError(f"unknown CA algorithm {algorithm!r}")
    key = new_private_key(algorithm, CA_RSA_BITS if algorithm == "rsa" else 0)
    assert isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    )
    return key


def ca_private_bytes(key: CAPrivateKey) -> bytes:
    """The CA key in OpenSSH's private format, unencrypted: only ever sealed."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )


def load_ca_private_key(data: bytes) -> CAPrivateKey:
    key = serialization.load_ssh_private_key(data, password=None)
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        raise CertificateError("not a CA key")
    return key


def public_line(key: CAPrivateKey, comment: str) -> str:
    """The CA's public key as one OpenSSH line."""
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{line.decode('ascii')} {comment}"


def public_blob(line: str) -> bytes:
    """The wire blob of an OpenSSH public key line (options not allowed)."""
    return base64.b64decode(line.split()[1])


def fingerprint_sha256(blob: bytes) -> str:
    """What ``ssh-keygen -l`` prints for a key blob."""
    return sha256_fingerprint(blob)


@dataclasses.dataclass(frozen=True)
class UserCertificate:
    """What a user certificate says; ``sign`` turns it into an OpenSSH line."""

    public_key: str
    serial: int
    key_id: str
    principals: Sequence[str]
    valid_after: int
    valid_before: int
    extensions: Sequence[str] = ()
    critical_options: Mapping[str, str] = dataclasses.field(default_factory=dict)


def sign(ca_key: CAPrivateKey, what: UserCertificate, comment: str = "") -> str:
    """An OpenSSH user certificate line (``ssh-ed25519-cert-v01@openssh.com ...``)."""
    label = what.public_key.split(None, 1)[0]
    if label not in CERTIFIABLE_TYPES:
        raise CertificateError(f"certificates cannot be issued for {label} keys")
    if not what.principals:
        raise CertificateError("a certificate names at least one principal")
    if not 0 < what.serial < 2**64:
        raise CertificateError("the serial is out of range")
    public_key: Any = serialization.load_ssh_public_key(what.public_key.encode("ascii"))
    builder = (
        serialization.SSHCertificateBuilder()
        .public_key(public_key)
        .serial(what.serial)
        .type(serialization.SSHCertificateType.USER)
        .key_id(what.key_id.encode("utf-8"))
        .valid_principals([p.encode("utf-8") for p in what.principals])
        .valid_after(what.valid_after)
        .valid_before(what.valid_before)
    )
    for name in what.extensions:
        builder = builder.add_extension(name.encode("ascii"), b"")
    for name, value in what.critical_options.items():
        builder = builder.add_critical_option(name.encode("ascii"), value.encode("ascii"))
    line = builder.sign(ca_key).public_bytes().decode("ascii")
    return f"{line} {comment}" if comment else line
