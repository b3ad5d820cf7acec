"""Sealing CA private keys at rest: AES-256-GCM under a key the operator holds.

The operator gives either a key file (32 random bytes, base64) or a
passphrase file.  Each sealed value has its own random salt: with a key file
the AES key is HKDF-SHA256(key, salt); with a passphrase it is
scrypt(passphrase, salt) (n=2**15, r=8, p=1, about 50 ms, done once per
salt per process).  The ciphertext is bound to ``context`` (the CA's id) as
associated data, so a sealed key copied to another CA's row does not open.

A sealed value is ``aesgcm1$<kdf>$<salt>$<nonce>$<ciphertext>`` (URL-safe
base64); ``kdf`` says which kind of operator key sealed it, so opening with
the wrong kind fails with a message that says so.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCHEME = "aesgcm1"
KEY_BYTES = 32
MIN_PASSPHRASE_CHARS = 16
_INFO = b"keypairs_ext certificate authority key"


class SealingError(Exception):
    """A sealing key that cannot be used, or a sealed value that does not open."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


@functools.lru_cache(maxsize=64)
def _scrypt(passphrase: bytes, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=2**15, r=8, p=1).derive(passphrase)


class Sealer:
    """Seals and opens secrets under one operator key."""

    def __init__(self, kdf: str, secret: bytes) -> None:
        self._kdf = kdf
        self._secret = secret

    def __repr__(self) -> str:  # never the secret
        return f"Sealer({self._kdf})"

    @classmethod
    def from_key_file(cls, path: str) -> Sealer:
        text = _read(path, "key file")
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != KEY_BYTES:
            raise SealingError(
                f"the key file {path} must hold {KEY_BYTES} random bytes in base64 "
                "(for example the output of 'openssl rand -base64 32')"
            )
        return cls("key", key)

    @classmethod
    def from_passphrase_file(cls, path: str) -> Sealer:
        passphrase = _read(path, "passphrase file").rstrip("\r\n")
        if len(passphrase) < MIN_PASSPHRASE_CHARS:
            raise SealingError(
                f"the passphrase in {path} must be at least {MIN_PASSPHRASE_CHARS} characters"
            )
        return cls("scrypt", passphrase.encode("utf-8"))

    def _key(self, salt: bytes) -> bytes:
        if self._kdf == "scrypt":
            return _scrypt(self._secret, salt)
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_INFO).derive(
            self._secret
        )

    def seal(self, plaintext: bytes, context: str) -> str:
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(self._key(salt)).encrypt(nonce, plaintext, context.encode("utf-8"))
        return "$".join((SCHEME, self._kdf, _b64(salt), _b64(nonce), _b64(sealed)))

    def open(self, sealed: str, context: str) -> bytes:
        parts = sealed.split("$")
        if len(parts) != 5 or parts[0] != SCHEME:
            raise SealingError("the sealed value is not in a known format")
        _, kdf, salt, nonce, data = parts
        if kdf != self._kdf:
            raise SealingError(
                f"the value was sealed with a {kdf} but the configured sealing key is a {self._kdf}"
            )
        try:
            return AESGCM(self._key(_unb64(salt))).decrypt(
                _unb64(nonce), _unb64(data), context.encode("utf-8")
            )
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SealingError(
                "the sealed value does not open with the configured sealing key"
            ) from exc


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SealingError(f"cannot read the {what} {path}: {exc.__class__.__name__}") from exc
