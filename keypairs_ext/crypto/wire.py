"""The SSH wire format of RFC 4251: strings and mpints, read strictly."""

from __future__ import annotations

import struct

from keypairs_ext.exception import InvalidKeypair


def ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def ssh_mpint(value: int) -> bytes:
    # Positive two's complement: a leading zero byte when the top bit is set.
    return ssh_string(value.to_bytes(value.bit_length() // 8 + 1, "big") if value else b"")


class BlobReader:
    """Reads RFC 4251 fields from a key blob, rejecting anything malformed."""

    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        self._offset = 0

    @property
    def remaining(self) -> int:
        return len(self._blob) - self._offset

    def string(self) -> bytes:
        if self.remaining < 4:
            raise InvalidKeypair("the key data is truncated or corrupt")
        (length,) = struct.unpack_from(">I", self._blob, self._offset)
        start = self._offset + 4
        if length > len(self._blob) - start:
            raise InvalidKeypair("the key data is truncated or corrupt")
        self._offset = start + length
        return self._blob[start : self._offset]

    def mpint(self) -> int:
        data = self.string()
        if data and data[0] & 0x80:
            raise InvalidKeypair("the key data contains a negative integer")
        # A redundant leading zero would give the same key another fingerprint.
        if data[:1] == b"\0" and (len(data) == 1 or not data[1] & 0x80):
            raise InvalidKeypair(
                "the key data contains a non-canonical integer (extra leading zero)"
            )
        return int.from_bytes(data, "big")
