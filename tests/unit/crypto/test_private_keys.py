"""keypairs_ext.crypto.private_keys: each writer's output read back by the
user's own tool (ssh-keygen, puttygen, openssl, paramiko)."""

from __future__ import annotations

import base64
import functools
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization

from keypairs_ext import crypto
from keypairs_ext.crypto.wire import ssh_string
from tests.conftest import need_program
from tests.conftest import run_program as run
from tests.unit.crypto.support import (
    PASSPHRASE,
    fails,
    key_part,
)

GENERATION_CASES = [
    *(
        (algorithm, None, fmt, passphrase)
        for algorithm in crypto.GENERATABLE_ALGORITHMS
        for fmt in crypto.PRIVATE_KEY_FORMATS
        if not (algorithm == "ed25519" and fmt == "pem")
        for passphrase in (None, PASSPHRASE)
    ),
    # The other RSA sizes once each: the size does not meet the format's code.
    ("rsa", 3072, "openssh", None),
    ("rsa", 4096, "ppk", PASSPHRASE),
]
EXPECTED_BEGIN = {
    ("openssh", False): "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    ("openssh", True): "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    ("pkcs8", False): "-----BEGIN PRIVATE KEY-----\n",
    ("pkcs8", True): "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
    ("ppk", False): "PuTTY-User-Key-File-3: ",
    ("ppk", True): "PuTTY-User-Key-File-3: ",
}


@functools.cache
def generated(
    algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> crypto.GeneratedKeypair:
    return crypto.generate_ssh_keypair(algorithm, bits, fmt, passphrase)


def _write_private(tmp_path: Path, pair: crypto.GeneratedKeypair) -> Path:
    path = tmp_path / "private"
    path.write_text(pair.private_key)
    path.chmod(0o600)  # ssh-keygen refuses readable private keys
    return path


def _puttygen(path: Path, passphrase: str | None, *args: str | Path) -> str:
    need_program("puttygen", "putty-tools")
    if passphrase is None:
        return run("puttygen", path, *args)
    secret = path.with_name("passphrase")
    secret.write_text(passphrase)
    return run("puttygen", path, *args, "--old-passphrase", secret)


def _public_from_private(
    tmp_path: Path, pair: crypto.GeneratedKeypair, fmt: str, passphrase: str | None
) -> str:
    """What the user's own tool derives from the private key."""
    path = _write_private(tmp_path, pair)
    if fmt == "pkcs8" and pair.public_key.algorithm == "ed25519":
        # ssh-keygen 9.2 (Debian bookworm) cannot read PKCS#8 Ed25519; ask OpenSSL.
        spki = run(
            "openssl",
            "pkey",
            "-in",
            path,
            "-passin",
            f"pass:{passphrase or ''}",
            "-pubout",
        )
        return (
            serialization.load_pem_public_key(spki.encode())
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
    if fmt != "ppk":
        return run("ssh-keygen", "-y", "-P", passphrase or "", "-f", path)
    # public-openssh reads only the clear public half; converting the private
    # half proves the MAC, the decryption and the key fields are right.
    public = _puttygen(path, passphrase, "-O", "public-openssh")
    converted = tmp_path / "converted"
    _puttygen(path, passphrase, "-O", "private-openssh", "-o", converted)
    # puttygen keeps the passphrase on the converted key.
    derived = run("ssh-keygen", "-y", "-P", passphrase or "", "-f", converted)
    assert key_part(derived) == key_part(public)
    return public


@pytest.mark.parametrize("algorithm, bits, fmt, passphrase", GENERATION_CASES)
def test_generated_private_key_reproduces_the_public_line(
    tmp_path: Path, algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> None:
    pair = generated(algorithm, bits, fmt, passphrase)
    assert pair.public_text == pair.public_key.openssh_line
    assert pair.public_text.endswith(" Generated-by-Nova")
    assert pair.public_key.algorithm == algorithm
    assert pair.public_key.bits == (
        bits
        or {"rsa": 2048, "ed25519": 256}.get(algorithm)
        or int(algorithm.removeprefix("ecdsa-p"))
    )
    assert crypto.parse_openssh_public_key(pair.public_text) == pair.public_key
    derived = _public_from_private(tmp_path, pair, fmt, passphrase)
    assert key_part(derived) == key_part(pair.public_text)


@pytest.mark.parametrize(
    "algorithm, bits, fmt, passphrase",
    [c for c in GENERATION_CASES if c[2] in ("openssh", "pem")],
)
def test_paramiko_loads_generated_openssh_and_pem_keys(
    tmp_path: Path, algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> None:
    pair = generated(algorithm, bits, fmt, passphrase)
    loaded = paramiko.PKey.from_path(
        _write_private(tmp_path, pair), passphrase and passphrase.encode()
    )
    assert f"{loaded.get_name()} {loaded.get_base64()}" == key_part(pair.public_text)


@pytest.mark.parametrize("algorithm, bits, fmt, passphrase", [c for c in GENERATION_CASES if c[3]])
def test_generated_private_key_is_encrypted(
    tmp_path: Path, algorithm: str, bits: int | None, fmt: str, passphrase: str
) -> None:
    pair = generated(algorithm, bits, fmt, passphrase)
    path = _write_private(tmp_path, pair)
    if fmt == "ppk":
        assert "Encryption: aes256-cbc\n" in pair.private_key
        assert "Key-Derivation: Argon2id\n" in pair.private_key
        secret = tmp_path / "wrong"
        secret.write_text("wrong")
        assert fails(
            "puttygen",
            path,
            "-O",
            "private-openssh",
            "-o",
            tmp_path / "out",
            "--old-passphrase",
            secret,
        )
        return
    assert fails("ssh-keygen", "-y", "-P", "wrong", "-f", path)
    if fmt == "openssh":
        body = base64.b64decode("".join(pair.private_key.splitlines()[1:-1]))
        assert b"aes256-ctr" in body and b"bcrypt" in body
    elif fmt == "pem":
        assert "Proc-Type: 4,ENCRYPTED\n" in pair.private_key


@pytest.mark.parametrize("algorithm, bits, fmt, passphrase", GENERATION_CASES)
def test_generated_private_key_headers(
    algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> None:
    private = generated(algorithm, bits, fmt, passphrase).private_key
    if fmt == "pem":
        kind = "RSA" if algorithm == "rsa" else "EC"
        assert private.startswith(f"-----BEGIN {kind} PRIVATE KEY-----\n")
    else:
        assert private.startswith(EXPECTED_BEGIN[fmt, passphrase is not None])
    if fmt == "ppk":
        assert ("Encryption: none\n" in private) == (passphrase is None)
        assert "Comment: Generated-by-Nova\n" in private


def test_unencrypted_openssh_ed25519_is_what_cryptography_writes(tmp_path: Path) -> None:
    """The generate path writes this one format from raw bytes: the bytes
    cryptography writes for the same key (but for the random check
    integers), which ssh-keygen reads back to the same public key."""
    pair = crypto.generate_ssh_keypair("ed25519", private_key_format="openssh", comment="a b")
    key = serialization.load_ssh_private_key(pair.private_key.encode(), None)
    again = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    assert [len(line) for line in pair.private_key.split("\n")] == [
        len(line) for line in again.split("\n")
    ]
    ours, theirs = (
        base64.b64decode("".join(text.splitlines()[1:-1])) for text in (pair.private_key, again)
    )
    # The private section follows the magic, the cipher and KDF names, the
    # empty KDF options, the key count, the public blob and the section's
    # length; it opens with two check integers, equal and random.
    public_blob = base64.b64decode(pair.public_text.split()[1])
    header = b"openssh-key-v1\0" + 2 * ssh_string(b"none") + ssh_string(b"") + bytes(4)
    at = len(header) + len(ssh_string(public_blob)) + 4
    assert ours[at : at + 4] == ours[at + 4 : at + 8]
    assert ours[:at] + theirs[at : at + 8] + ours[at + 8 :] == theirs
    derived = run("ssh-keygen", "-y", "-f", _write_private(tmp_path, pair))
    assert key_part(derived) == key_part(pair.public_text)
