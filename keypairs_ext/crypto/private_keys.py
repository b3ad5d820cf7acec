"""Private-key writers: OpenSSH, PKCS#8, traditional PEM and PuTTY's PPK.

An unencrypted OpenSSH Ed25519 key (what the generate path gives) is written
here from its raw bytes, the same bytes cryptography's ``private_bytes``
writes (PROTOCOL.key in OpenSSH's sources) without building a key object.
Neither cryptography nor asyncssh writes PPK.  Its format 3 is specified in
the PuTTY manual, appendix C: a text file whose MAC covers every field, with
the private blob encrypted by AES-256-CBC under keys from Argon2id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from argon2.low_level import Type as Argon2Type
from argon2.low_level import hash_secret_raw
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from keypairs_ext.crypto.wire import ssh_mpint, ssh_string

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

PRIVATE_KEY_FORMATS = ("openssh", "pkcs8", "pem", "ppk")

_PPK_ARGON2_MEMORY_KIB = 8192  # PuTTY's default
_PPK_ARGON2_PASSES = 13  # what puttygen picks for ~0.1 s on common hardware
_PPK_ARGON2_PARALLELISM = 1

# Magic, cipher "none", KDF "none", no KDF options, one key.
_OPENSSH_UNENCRYPTED_HEADER = (
    b"openssh-key-v1\0"
    + ssh_string(b"none")
    + ssh_string(b"none")
    + ssh_string(b"")
    + struct.pack(">I", 1)
)
_OPENSSH_BLOCK = 8  # the cipher block of "none"
_OPENSSH_PADDING = bytes(range(1, _OPENSSH_BLOCK + 1))


def openssh_public(key: PrivateKey) -> tuple[str, bytes]:
    """(label, blob) of the key's public half."""
    line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    label, encoded = line.split(" ")[:2]
    return label, base64.b64decode(encoded)


def serialize_private(
    key: PrivateKey, private_key_format: str, passphrase: str | None, comment: str
) -> str:
    """The private key as text in one of PRIVATE_KEY_FORMATS."""
    if private_key_format == "ppk":
        return _ppk(key, comment, passphrase)
    encoding_format = {
        "openssh": serialization.PrivateFormat.OpenSSH,  # bcrypt KDF, aes256-ctr
        "pkcs8": serialization.PrivateFormat.PKCS8,  # PBES2 when encrypted
        # Encrypted traditional PEM derives its key with one MD5 (OpenSSL's
        # legacy scheme): what old clients read, the weakest of the three.
        "pem": serialization.PrivateFormat.TraditionalOpenSSL,
    }[private_key_format]
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, encoding_format, encryption).decode(
        "ascii"
    )


def openssh_ed25519_private(public_blob: bytes, secret: bytes) -> str:
    """The unencrypted OpenSSH private key file of an Ed25519 pair.

    ``public_blob`` is the public key's SSH blob; ``secret`` the 64 bytes of
    seed and public key (libsodium's secret key, what OpenSSH stores).
    Byte for byte what cryptography writes for the same key: an empty
    comment, padding of a whole block when the section is already aligned,
    and base64 lines of 64 characters.
    """
    check = os.urandom(4)  # the two equal check integers that prove decryption
    section = check + check + public_blob + ssh_string(secret) + ssh_string(b"")
    section += _OPENSSH_PADDING[: _OPENSSH_BLOCK - len(section) % _OPENSSH_BLOCK]
    data = _OPENSSH_UNENCRYPTED_HEADER + ssh_string(public_blob) + ssh_string(section)
    encoded = base64.b64encode(data).decode("ascii")
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""]
    )


# --- PuTTY private key files (PPK format 3) ---------------------------------------


def _ppk_private_blob(key: PrivateKey) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        # PuTTY's order; iqmp is q^-1 mod p, as cryptography computes it.
        return b"".join(ssh_mpint(n) for n in (numbers.d, numbers.p, numbers.q, numbers.iqmp))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return ssh_string(key.private_bytes_raw())
    return ssh_mpint(key.private_numbers().private_value)


def _base64_lines(data: bytes) -> list[str]:
    encoded = base64.b64encode(data).decode("ascii")
    return [encoded[i : i + 64] for i in range(0, len(encoded), 64)]


def _ppk_derive(passphrase: str, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """(cipher key, IV, MAC key) for an encrypted PPK v3 file."""
    material = hash_secret_raw(
        secret=passphrase.encode("utf-8"),
        salt=salt,
        time_cost=_PPK_ARGON2_PASSES,
        memory_cost=_PPK_ARGON2_MEMORY_KIB,
        parallelism=_PPK_ARGON2_PARALLELISM,
        hash_len=32 + 16 + 32,
        type=Argon2Type.ID,
    )
    return material[:32], material[32:48], material[48:]


def _ppk_mac(mac_key: bytes, fields: tuple[bytes, ...]) -> str:
    """HMAC-SHA-256 over the header fields and the clear private blob."""
    data = b"".join(ssh_string(field) for field in fields)
    return hmac.new(mac_key, data, hashlib.sha256).hexdigest()


def _ppk_encrypt(private_blob: bytes, passphrase: str) -> tuple[bytes, bytes, list[str]]:
    """(encrypted blob, MAC key, key-derivation header lines)."""
    salt = os.urandom(16)
    cipher_key, iv, mac_key = _ppk_derive(passphrase, salt)
    encryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(private_blob) + encryptor.finalize()
    kdf_lines = [
        "Key-Derivation: Argon2id",
        f"Argon2-Memory: {_PPK_ARGON2_MEMORY_KIB}",
        f"Argon2-Passes: {_PPK_ARGON2_PASSES}",
        f"Argon2-Parallelism: {_PPK_ARGON2_PARALLELISM}",
        f"Argon2-Salt: {salt.hex()}",
    ]
    return encrypted, mac_key, kdf_lines


def _ppk(key: PrivateKey, comment: str, passphrase: str | None) -> str:
    label, public_blob = openssh_public(key)
    private_blob = _ppk_private_blob(key)
    if passphrase:
        encryption = "aes256-cbc"
        # Pad to the cipher block; the MAC covers the padding too.
        private_blob += os.urandom(-len(private_blob) % 16)
        stored_blob, mac_key, kdf_lines = _ppk_encrypt(private_blob, passphrase)
    else:
        # An unencrypted file is MACed all the same, with an empty key.
        encryption, stored_blob, mac_key, kdf_lines = "none", private_blob, b"", []
    header = (label.encode(), encryption.encode(), comment.encode("utf-8"))
    mac = _ppk_mac(mac_key, (*header, public_blob, private_blob))
    public_lines = _base64_lines(public_blob)
    private_lines = _base64_lines(stored_blob)
    lines = [
        f"PuTTY-User-Key-File-3: {label}",
        f"Encryption: {encryption}",
        f"Comment: {comment}",
        f"Public-Lines: {len(public_lines)}",
        *public_lines,
        *kdf_lines,
        f"Private-Lines: {len(private_lines)}",
        *private_lines,
        f"Private-MAC: {mac}",
    ]
    return "\n".join(lines) + "\n"
