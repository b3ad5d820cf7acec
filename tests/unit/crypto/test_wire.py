"""keypairs_ext.crypto.wire: the RFC 4251 reader refuses what would give a key
a second encoding, and reads back what the writers write."""

from __future__ import annotations

import pytest

from keypairs_ext.crypto.wire import BlobReader, ssh_mpint, ssh_string
from keypairs_ext.exception import InvalidKeypair


@pytest.mark.parametrize("value", [0, 1, 0x7F, 0x80, 0xFF, 65537, 2**2048 - 1])
def test_mpint_round_trip(value: int) -> None:
    reader = BlobReader(ssh_mpint(value) + ssh_string(b"tail"))
    assert reader.mpint() == value
    assert reader.string() == b"tail"
    assert reader.remaining == 0


@pytest.mark.parametrize(
    "blob, reason",
    [
        (b"\0\0\0", "truncated"),
        (b"\0\0\0\x05abcd", "truncated"),
        (ssh_string(b"\x80"), "negative integer"),
        (ssh_string(b"\0\x7f"), "non-canonical integer"),
        (ssh_string(b"\0"), "non-canonical integer"),
    ],
)
def test_reader_refuses_malformed_fields(blob: bytes, reason: str) -> None:
    with pytest.raises(InvalidKeypair, match=reason):
        BlobReader(blob).mpint()
