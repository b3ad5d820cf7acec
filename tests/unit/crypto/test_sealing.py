"""Sealing CA keys at rest: round trips, wrong keys, tampering, bad key files."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from keypairs_ext.crypto import sealing


def _key_file(tmp_path: Path, data: bytes | None = None, name: str = "key") -> str:
    path = tmp_path / name
    path.write_text(base64.b64encode(data if data is not None else os.urandom(32)).decode() + "\n")
    return str(path)


def _passphrase_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "passphrase"
    path.write_text(text + "\n")
    return str(path)


def test_key_file_round_trip_binds_the_context(tmp_path: Path) -> None:
    sealer = sealing.Sealer.from_key_file(_key_file(tmp_path))
    sealed = sealer.seal(b"secret ca key", "ca-1")
    assert b"secret" not in sealed.encode() and sealed.startswith("aesgcm1$key$")
    assert sealer.open(sealed, "ca-1") == b"secret ca key"
    # Each value has its own salt and nonce.
    assert sealer.seal(b"secret ca key", "ca-1") != sealed
    with pytest.raises(sealing.SealingError, match="does not open"):
        sealer.open(sealed, "ca-2")


def test_passphrase_round_trip(tmp_path: Path) -> None:
    sealer = sealing.Sealer.from_passphrase_file(
        _passphrase_file(tmp_path, "correct horse battery staple")
    )
    sealed = sealer.seal(b"k", "ca")
    assert sealed.startswith("aesgcm1$scrypt$")
    assert sealer.open(sealed, "ca") == b"k"


def test_another_key_or_kind_does_not_open(tmp_path: Path) -> None:
    sealed = sealing.Sealer.from_key_file(_key_file(tmp_path, name="a")).seal(b"k", "ca")
    other = sealing.Sealer.from_key_file(_key_file(tmp_path, name="b"))
    with pytest.raises(sealing.SealingError, match="does not open with the configured"):
        other.open(sealed, "ca")
    by_passphrase = sealing.Sealer.from_passphrase_file(_passphrase_file(tmp_path, "x" * 20))
    with pytest.raises(sealing.SealingError, match="sealed with a key but the configured"):
        by_passphrase.open(sealed, "ca")


def test_tampering_is_detected(tmp_path: Path) -> None:
    sealer = sealing.Sealer.from_key_file(_key_file(tmp_path))
    scheme, kdf, salt, nonce, data = sealer.seal(b"k" * 40, "ca").split("$")
    flipped = base64.urlsafe_b64decode(data)
    flipped = bytes([flipped[0] ^ 1]) + flipped[1:]
    forged = "$".join((scheme, kdf, salt, nonce, base64.urlsafe_b64encode(flipped).decode()))
    with pytest.raises(sealing.SealingError):
        sealer.open(forged, "ca")
    with pytest.raises(sealing.SealingError, match="not in a known format"):
        sealer.open("plain text", "ca")


@pytest.mark.parametrize("size", [0, 16, 33])
def test_key_files_must_hold_32_bytes(tmp_path: Path, size: int) -> None:
    with pytest.raises(sealing.SealingError, match="must hold 32 random bytes in base64"):
        sealing.Sealer.from_key_file(_key_file(tmp_path, os.urandom(size)))


def test_unreadable_files_and_short_passphrases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(sealing.SealingError, match="cannot read the key file"):
        sealing.Sealer.from_key_file(str(tmp_path / "missing"))
    with pytest.raises(sealing.SealingError, match="at least 16 characters"):
        sealing.Sealer.from_passphrase_file(_passphrase_file(tmp_path, "short"))


def test_the_secret_is_never_in_its_repr(tmp_path: Path) -> None:
    key = os.urandom(32)
    sealer = sealing.Sealer.from_key_file(_key_file(tmp_path, key))
    assert repr(sealer) == "Sealer(key)"
    assert base64.b64encode(key).decode() not in repr(sealer)
