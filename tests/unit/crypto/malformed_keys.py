"""Public keys that the compatible (Nova) import must reject, and why.

Usage::

    from tests.unit.crypto.malformed_keys import build_corpus

    @pytest.mark.parametrize(
        "text, reason", [c[1:] for c in build_corpus()],
        ids=[c.id for c in build_corpus()])
    def test_rejected(text, reason): ...

``build_corpus() -> tuple[MalformedKey, ...]``
    Each :class:`MalformedKey` is a named tuple ``(id, text, reason)``:
    ``id`` is a short unique name (usable as a pytest id), ``text`` the exact
    ``public_key`` string to submit, and ``reason`` a substring that the
    rejection message must contain (the ``InvalidKeypair`` message and so the
    400 fault's message, "Keypair data is invalid: <reason>").  The cases
    that need real keys are built from keys generated afresh, with
    ``cryptography``, on the first call (Ed25519, ECDSA P-256, RSA 2048 and
    1024, an X.509 certificate); later calls in the same process return the
    same corpus.  Every case is invalid with the default ``min_rsa_bits``
    (2048) and no ``allowed_algorithms`` restriction.

The module also exports the small SSH wire-format encoders used to build the
cases (:func:`ssh_string`, :func:`ssh_mpint`, :func:`b64`), for tests that
craft key blobs of their own.
"""

from __future__ import annotations

import base64
import functools
import os
import struct
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from keypairs_ext.crypto.x509 import self_signed_certificate


class MalformedKey(NamedTuple):
    id: str
    text: str
    reason: str


def ssh_string(data: bytes) -> bytes:
    """An RFC 4251 string: uint32 length, then the bytes."""
    return struct.pack(">I", len(data)) + data


def ssh_mpint(value: int) -> bytes:
    """An RFC 4251 mpint for a non-negative integer, minimally encoded."""
    if value == 0:
        return ssh_string(b"")
    return ssh_string(value.to_bytes(value.bit_length() // 8 + 1, "big"))


def b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def _openssh_line(
    key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")


def _rsa_line(exponent: int, modulus: int, raw_modulus: bytes | None = None) -> str:
    modulus_field = ssh_string(raw_modulus) if raw_modulus is not None else ssh_mpint(modulus)
    return "ssh-rsa " + b64(ssh_string(b"ssh-rsa") + ssh_mpint(exponent) + modulus_field)


def _random_odd(bits: int) -> int:
    # Top bit set so the size is exact; odd like any real modulus.
    return int.from_bytes(os.urandom(bits // 8 + 1), "big") % (1 << bits) | (1 << (bits - 1)) | 1


def _flip_unused_bits(token: str) -> str:
    """Base64 that decodes to the same bytes but is not canonical."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = token.rstrip("=")
    last = alphabet[alphabet.index(body[-1]) | 1]
    return body[:-1] + last + token[len(body) :]


def _certificate_pem(key: ed25519.Ed25519PrivateKey) -> str:
    certificate = self_signed_certificate(key, "corpus", days=1)
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _private_pem(
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey,
    private_format: serialization.PrivateFormat,
) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, private_format, serialization.NoEncryption()
    ).decode("ascii")


def _rfc4716(blob: bytes) -> str:
    encoded = b64(blob)
    lines = [encoded[i : i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join(
        [
            "---- BEGIN SSH2 PUBLIC KEY ----",
            'Comment: "corpus"',
            *lines,
            "---- END SSH2 PUBLIC KEY ----",
            "",
        ]
    )


def _syntax_cases(ed_line: str, ed_b64: str, ed_blob: bytes) -> list[MalformedKey]:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in ed_b64[:12])
    return [
        MalformedKey("empty", "", "empty"),
        MalformedKey("whitespace-only", "  \t ", "empty"),
        MalformedKey("newline-only", "\n", "empty"),
        MalformedKey("label-only", "ssh-ed25519", "no base64 key data"),
        MalformedKey("label-and-blanks", "ssh-ed25519 \t ", "no base64 key data"),
        MalformedKey("base64-only", ed_b64, "key type is missing"),
        MalformedKey("unknown-label", f"ssh-foo {ed_b64}", "unknown key type"),
        MalformedKey("uppercase-label", f"SSH-ED25519 {ed_b64}", "case-sensitive"),
        MalformedKey(
            "openssh-certificate-label",
            f"ssh-ed25519-cert-v01@openssh.com {ed_b64}",
            "certificates",
        ),
        MalformedKey("base64-truncated", f"ssh-ed25519 {ed_b64[:-3]}", "not a multiple of 4"),
        MalformedKey(
            "base64-bad-character",
            f"ssh-ed25519 {ed_b64[:10]}!{ed_b64[11:]}",
            "not valid base64",
        ),
        MalformedKey(
            "base64-inner-padding",
            f"ssh-ed25519 {ed_b64[:8]}=={ed_b64[10:]}",
            "not valid base64",
        ),
        MalformedKey("blob-truncated", f"ssh-ed25519 {b64(ed_blob[:-8])}", "truncated"),
        MalformedKey("blob-too-short", f"ssh-ed25519 {b64(b'abc')}", "truncated"),
        MalformedKey(
            "blob-trailing-bytes",
            f"ssh-ed25519 {b64(ed_blob + bytes(4))}",
            "trailing bytes",
        ),
        MalformedKey(
            "ed25519-short-key",
            "ssh-ed25519 " + b64(ssh_string(b"ssh-ed25519") + ssh_string(bytes(31))),
            "32 bytes",
        ),
        MalformedKey("options-command", f'command="echo hi" {ed_line}', "options"),
        MalformedKey("options-no-pty", f"no-pty,no-port-forwarding {ed_line}", "options"),
        MalformedKey("options-restrict", f"restrict {ed_line}", "options"),
        MalformedKey("options-from", f'from="10.0.0.0/8" {ed_line}', "options"),
        MalformedKey("options-unknown", f"foo=bar {ed_line}", "options"),
        MalformedKey("nul-in-comment", f"{ed_line} a\0b", "U+0000"),
        MalformedKey("nul-after-base64", f"ssh-ed25519 {ed_b64}\0", "U+0000"),
        MalformedKey("escape-in-comment", f"{ed_line} \x1b[31mred", "U+001B"),
        MalformedKey("vertical-tab-separator", f"ssh-ed25519\x0b{ed_b64}", "U+000B"),
        MalformedKey("delete-in-comment", f"{ed_line} a\x7fb", "U+007F"),
        MalformedKey("unicode-line-separator", f"{ed_line}\u2028{ed_line}", "U+2028"),
        MalformedKey("bidi-override-comment", f"{ed_line} \u202egnp.exe", "U+202E"),
        MalformedKey("byte-order-mark", f"\ufeff{ed_line}", "U+FEFF"),
        MalformedKey("cyrillic-label", f"\u0455\u0455h-ed25519 {ed_b64}", "non-ASCII"),
        MalformedKey("fullwidth-label", f"\uff53\uff53\uff48-ed25519 {ed_b64}", "non-ASCII"),
        MalformedKey("fullwidth-base64", f"ssh-ed25519 {fullwidth}{ed_b64[12:]}", "non-ASCII"),
        MalformedKey("no-break-space-separator", f"ssh-ed25519\u00a0{ed_b64}", "non-ASCII"),
        MalformedKey("too-long", f"{ed_line} {'x' * 20000}", "too long"),
    ]


def _line_break_cases(ed_line: str, rsa_line: str) -> list[MalformedKey]:
    # A second key behind a line break would reach authorized_keys unseen.
    return [
        MalformedKey("second-key-lf", f"{ed_line}\n{rsa_line}", "single line"),
        MalformedKey("second-key-crlf", f"{ed_line}\r\n{rsa_line}", "single line"),
        MalformedKey("second-key-cr", f"{ed_line}\r{rsa_line}", "single line"),
        MalformedKey("second-key-lf-trailing-lf", f"{ed_line}\n{rsa_line}\n", "single line"),
        # One final CRLF is a line end (a key saved on Windows); nothing more is.
        MalformedKey("two-trailing-crlf", f"{ed_line}\r\n\r\n", "single line"),
        MalformedKey("crlf-then-blank", f"{ed_line}\r\n ", "single line"),
        MalformedKey("cr-before-crlf", f"{ed_line}\r\r\n", "single line"),
        MalformedKey("lf-cr", f"{ed_line}\n\r", "single line"),
        MalformedKey("cr-in-comment-crlf", f"{ed_line} a\rb\r\n", "single line"),
        MalformedKey("trailing-cr", f"{ed_line}\r", "single line"),
        MalformedKey("two-trailing-lf", f"{ed_line}\n\n", "single line"),
        MalformedKey("leading-lf", f"\n{ed_line}", "single line"),
    ]


def _blob_cases(
    ed_b64: str,
    p256: ec.EllipticCurvePublicKey,
    rsa_b64: str,
) -> list[MalformedKey]:
    p256_line = _openssh_line(p256)
    p256_b64 = p256_line.split()[1]
    numbers = p256.public_numbers()
    x = numbers.x.to_bytes(32, "big")
    off_curve = x + ((numbers.y + 1) % (1 << 256)).to_bytes(32, "big")
    label = ssh_string(b"ecdsa-sha2-nistp256")

    def ecdsa(curve: bytes, point: bytes) -> str:
        return "ecdsa-sha2-nistp256 " + b64(label + ssh_string(curve) + ssh_string(point))

    sk_without_application = b64(
        ssh_string(b"sk-ssh-ed25519@openssh.com") + ssh_string(os.urandom(32))
    )
    sk_p256 = b64(
        ssh_string(b"sk-ecdsa-sha2-nistp256@openssh.com")
        + ssh_string(b"nistp256")
        + ssh_string(b"\x04" + x + numbers.y.to_bytes(32, "big"))
        + ssh_string(b"ssh:")
    )
    return [
        MalformedKey("label-rsa-blob-ed25519", f"ssh-rsa {ed_b64}", "do not match"),
        MalformedKey("label-ed25519-blob-rsa", f"ssh-ed25519 {rsa_b64}", "do not match"),
        MalformedKey("label-p384-blob-p256", f"ecdsa-sha2-nistp384 {p256_b64}", "do not match"),
        MalformedKey(
            "label-sk-blob-ed25519",
            f"sk-ssh-ed25519@openssh.com {ed_b64}",
            "do not match",
        ),
        MalformedKey(
            "label-ecdsa-blob-sk-ecdsa",
            f"ecdsa-sha2-nistp256 {sk_p256}",
            "do not match",
        ),
        MalformedKey(
            "base64-non-canonical",
            f"ecdsa-sha2-nistp256 {_flip_unused_bits(p256_b64)}",
            "not canonical base64",
        ),
        MalformedKey(
            "ecdsa-curve-name-mismatch",
            ecdsa(b"nistp384", b"\x04" + x + numbers.y.to_bytes(32, "big")),
            "names curve",
        ),
        MalformedKey(
            "ecdsa-off-curve",
            ecdsa(b"nistp256", b"\x04" + off_curve),
            "not on the curve",
        ),
        MalformedKey(
            "ecdsa-compressed-point",
            ecdsa(b"nistp256", bytes([2 + numbers.y % 2]) + x),
            "uncompressed",
        ),
        MalformedKey("ecdsa-point-at-infinity", ecdsa(b"nistp256", b"\x00"), "uncompressed"),
        MalformedKey(
            "sk-missing-application",
            f"sk-ssh-ed25519@openssh.com {sk_without_application}",
            "truncated",
        ),
    ]


def _rsa_cases(rsa_2048: rsa.RSAPublicKey, rsa_1024: rsa.RSAPublicKey) -> list[MalformedKey]:
    modulus = rsa_2048.public_numbers().n
    synthetic_dsa = b64(
        ssh_string(b"ssh-dss")
        + b"".join(ssh_mpint(_random_odd(bits)) for bits in (1024, 160, 1024, 1024))
    )
    return [
        MalformedKey("dsa", f"ssh-dss {synthetic_dsa} old@key", "DSA"),
        MalformedKey("rsa-1024", _openssh_line(rsa_1024), "1024 bits"),
        MalformedKey("rsa-1023", _rsa_line(65537, _random_odd(1023)), "1023 bits"),
        MalformedKey("rsa-32768", _rsa_line(65537, _random_odd(32768)), "too large"),
        MalformedKey("rsa-exponent-even", _rsa_line(65536, modulus), "exponent"),
        MalformedKey("rsa-exponent-1", _rsa_line(1, modulus), "exponent"),
        MalformedKey("rsa-exponent-2", _rsa_line(2, modulus), "exponent"),
        MalformedKey("rsa-exponent-2**64+1", _rsa_line(2**64 + 1, modulus), "exponent"),
        MalformedKey("rsa-exponent-huge", _rsa_line(_random_odd(2048), modulus), "exponent"),
        MalformedKey("rsa-modulus-even", _rsa_line(65537, modulus - 1), "modulus is even"),
        MalformedKey(
            "rsa-modulus-negative",
            _rsa_line(65537, 0, raw_modulus=modulus.to_bytes(256, "big")),
            "negative",
        ),
        MalformedKey(
            "rsa-modulus-leading-zero",
            _rsa_line(65537, 0, raw_modulus=b"\0\0" + modulus.to_bytes(256, "big")),
            "non-canonical integer",
        ),
    ]


def _other_format_cases(
    ed_key: ed25519.Ed25519PrivateKey, ed_blob: bytes, rsa_1024: rsa.RSAPrivateKey
) -> list[MalformedKey]:
    spki = (
        ed_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    pkcs1 = (
        rsa_1024.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode("ascii")
    )
    ppk = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: c\n"
        f"Public-Lines: 2\n{b64(ed_blob)[:64]}\n{b64(ed_blob)[64:]}\n"
    )
    only_one_line = "only the OpenSSH one-line format"
    return [
        MalformedKey("rfc4716", _rfc4716(ed_blob), only_one_line),
        MalformedKey("pem-subject-public-key-info", spki, only_one_line),
        MalformedKey("pem-pkcs1-rsa-public-key", pkcs1, only_one_line),
        MalformedKey("x509-certificate", _certificate_pem(ed_key), "X.509 certificate"),
        MalformedKey(
            "private-key-pkcs8",
            _private_pem(ed_key, serialization.PrivateFormat.PKCS8),
            "private key",
        ),
        MalformedKey(
            "private-key-openssh",
            _private_pem(ed_key, serialization.PrivateFormat.OpenSSH),
            "private key",
        ),
        MalformedKey(
            "private-key-rsa-traditional",
            _private_pem(rsa_1024, serialization.PrivateFormat.TraditionalOpenSSL),
            "private key",
        ),
        MalformedKey("private-key-putty", ppk, "private key"),
    ]


@functools.cache
def build_corpus() -> tuple[MalformedKey, ...]:
    """Every malformed case, built from fresh keys (see the module docstring)."""
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_line = _openssh_line(ed_key.public_key()) + " corpus@example"
    ed_b64 = ed_line.split()[1]
    ed_blob = base64.b64decode(ed_b64)
    rsa_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    rsa_line = _openssh_line(rsa_2048.public_key())
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    return tuple(
        [
            *_syntax_cases(ed_line, ed_b64, ed_blob),
            *_line_break_cases(ed_line, rsa_line),
            *_blob_cases(ed_b64, p256, rsa_line.split()[1]),
            *_rsa_cases(rsa_2048.public_key(), rsa_1024.public_key()),
            *_other_format_cases(ed_key, ed_blob, rsa_1024),
        ]
    )
