"""What the service knows about a key: the records parsers and generators return."""

from __future__ import annotations

import base64
import dataclasses
import hashlib


@dataclasses.dataclass(frozen=True)
class PublicKey:
    """What the service knows about an accepted public key or certificate."""

    type: str  # "ssh" or "x509"
    algorithm: str  # one of ALGORITHMS
    bits: int  # RSA modulus bits; curve size for ed25519/ecdsa
    label: str  # the OpenSSH type label ("" for x509)
    comment: str  # the comment field of the line ("" if none)
    openssh_line: str  # canonical "label base64[ comment]" ("" for x509)
    fingerprint: str  # ssh: MD5 of the blob; x509: SHA-1 of the DER
    fingerprint_sha256: str  # "SHA256:" + unpadded base64, as ssh-keygen -l


@dataclasses.dataclass(frozen=True)
class GeneratedKeypair:
    """A freshly generated key pair; private_key is shown to the user once."""

    public_key: PublicKey
    public_text: str  # stored and returned as public_key
    private_key: str


def md5_fingerprint(data: bytes) -> str:
    # MD5 is what Nova and `ssh-keygen -E md5` print; it identifies, not secures.
    return hashlib.md5(data, usedforsecurity=False).digest().hex(":")


def sha1_fingerprint(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).digest().hex(":")


def sha256_fingerprint(data: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")
