"""OpenSSH Key Revocation Lists (PROTOCOL.krl), written as ``ssh-keygen -k`` writes them.

No library writes KRLs, so this follows OpenSSH's ``krl.c``: revoked serials
are merged into ranges (neighbours included), and each run is written as the
section kind (list, range or bitmap) that its cost model picks; key IDs sort
by bytes; explicit keys and hashes sort as ``blob_cmp`` does; certificate
sections come first, in the order their CAs are given, then explicit keys,
SHA-1 and SHA-256 hashes.  Unsigned: OpenSSH 9.4 and later refuse KRL
signatures, and the list is fetched over the authenticated metadata or API
channel.  ``sshd``'s ``RevokedKeys`` and ``ssh-keygen -Q`` read the result.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterable, Sequence

from keypairs_ext.crypto.wire import ssh_mpint, ssh_string

MAGIC = b"SSHKRL\n\x00"
FORMAT_VERSION = 1

SECTION_CERTIFICATES = 1
SECTION_EXPLICIT_KEY = 2
SECTION_FINGERPRINT_SHA1 = 3
SECTION_FINGERPRINT_SHA256 = 5

CERT_SERIAL_LIST = 0x20
CERT_SERIAL_RANGE = 0x21
CERT_SERIAL_BITMAP = 0x22
CERT_KEY_ID = 0x23


@dataclasses.dataclass(frozen=True)
class CertificateRevocations:
    """Certificates of one CA revoked by serial or key ID."""

    ca_key: bytes  #: the CA's public key blob (b"" applies to every CA)
    serials: Iterable[int] = ()
    key_ids: Iterable[str] = ()


def _u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def serial_ranges(serials: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged ``(lo, hi)`` runs; neighbouring serials join one run."""
    runs: list[list[int]] = []
    for serial in sorted(set(serials)):
        if not 0 < serial < 2**64:
            raise ValueError(f"serial {serial} cannot be revoked (1 to 2**64-1)")
        if runs and serial == runs[-1][1] + 1:
            runs[-1][1] = serial
        else:
            runs.append([serial, serial])
    return [(lo, hi) for lo, hi in runs]


def _choose(state: int, contig: int, final: bool, last_gap: int, next_gap: int) -> tuple[int, bool]:
    """krl.c's choose_next_state: the cheapest section kind for the next run."""
    contig = min(contig, 1 << 31)
    last_gap = min(last_gap, 1 << 31)
    next_gap = min(next_gap, 1 << 31)
    cost_list = cost_bitmap = cost_bitmap_restart = 0
    cost_range = 8
    if state == CERT_SERIAL_LIST:
        cost_bitmap_restart = cost_bitmap = 8 + 64
    elif state == CERT_SERIAL_BITMAP:
        cost_list = 8
        cost_bitmap_restart = 8 + 64
    else:  # a range, or nothing yet
        cost_bitmap_restart = cost_bitmap = 8 + 64
        cost_list = 8
    tail = 0 if final else 8 + 64
    cost_list += 64 * contig + tail
    cost_range += 2 * 64 + tail
    cost_bitmap += last_gap + contig + (0 if final else min(next_gap, 8 + 64))
    cost_bitmap_restart += contig + (0 if final else min(next_gap, 8 + 64))
    cost_list, cost_bitmap, cost_bitmap_restart, cost_range = (
        (c + 7) // 8 for c in (cost_list, cost_bitmap, cost_bitmap_restart, cost_range)
    )
    new_state, cost, restart = CERT_SERIAL_BITMAP, cost_bitmap, False
    if cost_range < cost:
        new_state, cost = CERT_SERIAL_RANGE, cost_range
    if cost_list < cost:
        new_state, cost = CERT_SERIAL_LIST, cost_list
    if cost_bitmap_restart < cost:
        new_state, cost, restart = CERT_SERIAL_BITMAP, cost_bitmap_restart, True
    return new_state, restart


def _serial_sections(runs: Sequence[tuple[int, int]]) -> bytes:
    out = bytearray()
    state = 0
    body = bytearray()
    bitmap = 0
    bitmap_start = 0
    last = 0

    def finish() -> None:
        nonlocal body, bitmap
        if state == CERT_SERIAL_BITMAP:
            body += ssh_mpint(bitmap)
            bitmap = 0
        out.append(state)
        out.extend(ssh_string(bytes(body)))
        body = bytearray()

    for index, (lo, hi) in enumerate(runs):
        final = index == len(runs) - 1
        gap = 0 if final else runs[index + 1][0] - hi
        contig = 1 + hi - lo
        next_state, restart = _choose(state, contig, final, 0 if state == 0 else lo - last, gap)
        if state != 0 and (restart or next_state != state or state == CERT_SERIAL_RANGE):
            finish()
        if next_state != state or restart:
            state = next_state
            body = bytearray()
            if state == CERT_SERIAL_BITMAP:
                bitmap_start = lo
                body += _u64(bitmap_start)
        if state == CERT_SERIAL_LIST:
            for serial in range(lo, hi + 1):
                body += _u64(serial)
        elif state == CERT_SERIAL_RANGE:
            body += _u64(lo) + _u64(hi)
        else:
            # bits lo..hi, counted from the section's first serial
            bitmap |= ((1 << contig) - 1) << (lo - bitmap_start)
        last = hi
    if state != 0:
        finish()
    return bytes(out)


def _certificate_section(revoked: CertificateRevocations) -> bytes:
    section = ssh_string(revoked.ca_key) + ssh_string(b"")
    section += _serial_sections(serial_ranges(revoked.serials))
    key_ids = sorted({key_id.encode("utf-8") for key_id in revoked.key_ids})
    if key_ids:
        section += bytes([CERT_KEY_ID]) + ssh_string(b"".join(ssh_string(k) for k in key_ids))
    return section


def _blob_section(kind: int, blobs: Iterable[bytes]) -> bytes:
    # krl.c's blob_cmp is Python's bytes order: bytes first, then the shorter
    ordered = sorted(set(blobs))
    if not ordered:
        return b""
    return bytes([kind]) + ssh_string(b"".join(ssh_string(b) for b in ordered))


def build(
    *,
    version: int,
    generated_at: int,
    comment: str = "",
    certificates: Sequence[CertificateRevocations] = (),
    keys: Iterable[bytes] = (),
    sha1: Iterable[bytes] = (),
    sha256: Iterable[bytes] = (),
) -> bytes:
    """A KRL: revoked certificates per CA, then keys by blob, SHA-1 and SHA-256."""
    out = bytearray(MAGIC)
    out += struct.pack(">I", FORMAT_VERSION)
    out += _u64(version) + _u64(generated_at) + _u64(0)
    out += ssh_string(b"") + ssh_string(comment.encode("utf-8"))
    for revoked in certificates:
        out.append(SECTION_CERTIFICATES)
        out += ssh_string(_certificate_section(revoked))
    for hashes, size in ((sha1, 20), (sha256, 32)):
        for digest in hashes:
            if len(digest) != size:
                raise ValueError(f"a revoked key hash must be {size} bytes")
    out += _blob_section(SECTION_EXPLICIT_KEY, keys)
    out += _blob_section(SECTION_FINGERPRINT_SHA1, sha1)
    out += _blob_section(SECTION_FINGERPRINT_SHA256, sha256)
    return bytes(out)
