"""Generating SSH key pairs, with the options the API offers."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import nacl.bindings
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from keypairs_ext.crypto.algorithms import (
    ALGORITHMS,
    GENERATABLE_ALGORITHMS,
    KEY_TYPES,
    RSA_GENERATION_BITS,
    curve_of,
)
from keypairs_ext.crypto.keys import GeneratedKeypair
from keypairs_ext.crypto.openssh import ssh_public_key
from keypairs_ext.crypto.private_keys import (
    PRIVATE_KEY_FORMATS,
    PrivateKey,
    openssh_ed25519_private,
    openssh_public,
    serialize_private,
)
from keypairs_ext.crypto.text import FORBIDDEN_CATEGORIES, show
from keypairs_ext.crypto.wire import ssh_string
from keypairs_ext.exception import InvalidKeypair


def _resolve_bits(algorithm: str, bits: int | None) -> int:
    if algorithm not in GENERATABLE_ALGORITHMS:
        hint = (
            " (security keys are made on the user's authenticator)"
            if algorithm in ALGORITHMS
            else ""
        )
        raise InvalidKeypair(
            f"cannot generate algorithm {show(algorithm)}{hint}; choose one of "
            + ", ".join(GENERATABLE_ALGORITHMS)
        )
    if algorithm == "rsa":
        allowed: tuple[int, ...] = RSA_GENERATION_BITS
    elif algorithm == "ed25519":
        allowed = (256,)
    else:
        allowed = (curve_of(algorithm).key_size,)
    if bits is None:
        return allowed[0]
    if bits not in allowed:
        raise InvalidKeypair(
            f"{bits} bits is not valid for {algorithm}; use " + " or ".join(str(b) for b in allowed)
        )
    return bits


def _check_generation_options(
    algorithm: str, private_key_format: str, passphrase: str | None, comment: str
) -> None:
    if private_key_format not in PRIVATE_KEY_FORMATS:
        raise InvalidKeypair(
            f"unknown private key format {show(private_key_format)}; choose one "
            "of " + ", ".join(PRIVATE_KEY_FORMATS)
        )
    if private_key_format == "pem" and algorithm == "ed25519":
        raise InvalidKeypair(
            "an ed25519 private key has no traditional PEM form; use the openssh or pkcs8 format"
        )
    if passphrase is not None and not passphrase:
        raise InvalidKeypair("passphrase must not be empty")
    # Printable ASCII (the usual comment) holds none of the forbidden classes.
    if not (comment.isascii() and comment.isprintable()) and any(
        unicodedata.category(c) in FORBIDDEN_CATEGORIES for c in comment
    ):
        raise InvalidKeypair("the comment must be one line without control characters")


def new_private_key(algorithm: str, bits: int) -> PrivateKey:
    """A fresh private key of a generatable algorithm and size."""
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(curve_of(algorithm))


_ED25519 = KEY_TYPES["ssh-ed25519"]


def _ed25519_openssh(comment: str) -> GeneratedKeypair:
    """An Ed25519 pair with an unencrypted OpenSSH private key, from raw bytes.

    libsodium (PyNaCl) makes the pair in some 60% of the time OpenSSL takes
    through cryptography's key object, which this format does not need.
    """
    public, secret = nacl.bindings.crypto_sign_keypair()
    blob = ssh_string(_ED25519.label.encode()) + ssh_string(public)
    public_key = ssh_public_key(_ED25519, 256, blob, comment)
    return GeneratedKeypair(
        public_key=public_key,
        public_text=public_key.openssh_line,
        private_key=openssh_ed25519_private(blob, secret),
    )


def generate_ssh_keypair(
    algorithm: str = "rsa",
    bits: int | None = None,
    private_key_format: str = "pem",
    passphrase: str | None = None,
    comment: str = "Generated-by-Nova",
    new_key: Callable[[str, int], Any] | None = None,
) -> GeneratedKeypair:
    """Generate an SSH key pair.

    The defaults give what Nova clients expect: RSA 2048 with a PKCS#1
    ``BEGIN RSA PRIVATE KEY`` private key and ``ssh-rsa ... Generated-by-Nova``.
    ``new_key(algorithm, bits)`` supplies the private key when given (a pool
    of pre-generated keys); otherwise it is made here.  An Ed25519 pair with
    an unencrypted OpenSSH private key needs no key object and is always
    made here.
    """
    bits = _resolve_bits(algorithm, bits)
    comment = comment.strip(" \t")
    _check_generation_options(algorithm, private_key_format, passphrase, comment)
    if algorithm == "ed25519" and private_key_format == "openssh" and passphrase is None:
        return _ed25519_openssh(comment)
    key = (new_key or new_private_key)(algorithm, bits)
    label, blob = openssh_public(key)
    public_key = ssh_public_key(KEY_TYPES[label], bits, blob, comment)
    return GeneratedKeypair(
        public_key=public_key,
        public_text=public_key.openssh_line,
        private_key=serialize_private(key, private_key_format, passphrase, comment),
    )
