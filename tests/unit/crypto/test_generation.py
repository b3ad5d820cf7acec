"""keypairs_ext.crypto.generation: defaults and options of generated key pairs."""

from __future__ import annotations

import base64
import hashlib

import pytest

from keypairs_ext import crypto
from keypairs_ext.exception import InvalidKeypair


def test_default_generation_is_what_nova_clients_expect() -> None:
    pair = crypto.generate_ssh_keypair()
    assert pair.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert pair.private_key.endswith("-----END RSA PRIVATE KEY-----\n")
    label, data, comment = pair.public_text.split(" ")
    assert (label, comment) == ("ssh-rsa", "Generated-by-Nova")
    assert data.startswith("AAAA")
    assert (pair.public_key.algorithm, pair.public_key.bits) == ("rsa", 2048)
    assert pair.public_key.fingerprint == ":".join(
        f"{b:02x}" for b in hashlib.md5(base64.b64decode(data)).digest()
    )


def test_generation_with_a_custom_comment() -> None:
    pair = crypto.generate_ssh_keypair("ed25519", private_key_format="ppk", comment="alice@laptop")
    assert pair.public_text.endswith(" alice@laptop")
    assert "Comment: alice@laptop\n" in pair.private_key
    assert (
        crypto.generate_ssh_keypair(
            "ed25519", private_key_format="openssh", comment=""
        ).public_text.count(" ")
        == 1
    )


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"algorithm": "dsa"}, "cannot generate algorithm 'dsa'"),
        ({"algorithm": "sk-ed25519"}, "authenticator"),
        ({"algorithm": "rsa", "bits": 1024}, "1024 bits is not valid for rsa"),
        ({"algorithm": "rsa", "bits": 8192}, "use 2048 or 3072 or 4096"),
        ({"algorithm": "ed25519", "bits": 384}, "not valid for ed25519"),
        ({"algorithm": "ecdsa-p384", "bits": 256}, "use 384"),
        ({"private_key_format": "der"}, "unknown private key format 'der'"),
        ({"algorithm": "ed25519", "private_key_format": "pem"}, "openssh or pkcs8"),
        ({"passphrase": ""}, "passphrase must not be empty"),
        ({"comment": "two\nlines"}, "comment must be one line"),
    ],
)
def test_invalid_generation_requests(kwargs: dict, reason: str) -> None:
    with pytest.raises(InvalidKeypair, match=reason):
        crypto.generate_ssh_keypair(**kwargs)
