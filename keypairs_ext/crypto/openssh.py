"""The one-line OpenSSH public key, as Nova's import accepts it.

The blob inside the line is decoded and checked field by field, and the
fingerprints are computed over that very blob, so what is fingerprinted is
what ``authorized_keys`` gets.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Collection

from cryptography.hazmat.primitives.asymmetric import ec

from keypairs_ext.crypto.algorithms import EC_CURVES, KEY_TYPES, KeyType
from keypairs_ext.crypto.keys import PublicKey, md5_fingerprint, sha256_fingerprint
from keypairs_ext.crypto.text import FORBIDDEN_CATEGORIES, check_length, show
from keypairs_ext.crypto.wire import BlobReader
from keypairs_ext.exception import InvalidKeypair

# OpenSSH refuses RSA moduli above 16384 bits; larger ones only cost CPU.
_MAX_RSA_BITS = 16384
# OpenSSL's bound on public exponents: anything bigger is an attack or a bug.
_MAX_RSA_EXPONENT_BITS = 64

_SUPPORTED_LABELS = ", ".join(KEY_TYPES)
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/]*")
_FIELD_SEPARATOR = re.compile(r"[ \t]+")
_AUTHORIZED_KEYS_OPTION = re.compile(
    r"(?i)(?:no-)?(?:agent-forwarding|port-forwarding|pty|user-rc|x11-forwarding"
    r"|touch-required|verify-required|restrict|cert-authority|command|environment"
    r"|expiry-time|from|permitlisten|permitopen|principals|tunnel)(?:[=,]|$)"
)
PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
# Of the ASCII controls, only the tab may appear in a key line.
_ASCII_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


# --- blob validation --------------------------------------------------------


def _check_rsa(reader: BlobReader, min_rsa_bits: int) -> int:
    exponent = reader.mpint()
    modulus = reader.mpint()
    bits = modulus.bit_length()
    if bits < min_rsa_bits:
        raise InvalidKeypair(
            f"the RSA key is {bits} bits; at least {min_rsa_bits} bits are required"
        )
    if bits > _MAX_RSA_BITS:
        raise InvalidKeypair(
            f"the RSA key of {bits} bits is too large (at most {_MAX_RSA_BITS} bits)"
        )
    if modulus % 2 == 0:
        raise InvalidKeypair("the RSA modulus is even, which no real key has")
    if (
        exponent < 3
        or exponent % 2 == 0
        or exponent >= modulus
        or exponent.bit_length() > _MAX_RSA_EXPONENT_BITS
    ):
        raise InvalidKeypair(
            "the RSA public exponent is invalid (it must be odd, at least 3 and "
            f"at most {_MAX_RSA_EXPONENT_BITS} bits)"
        )
    return bits


def _check_ed25519(reader: BlobReader) -> int:
    point = reader.string()
    if len(point) != 32:
        raise InvalidKeypair(f"an Ed25519 public key is 32 bytes, this one is {len(point)} bytes")
    return 256


def _check_ecdsa(reader: BlobReader, curve_name: str) -> int:
    named = reader.string()
    if named != curve_name.encode():
        raise InvalidKeypair(
            f"the key data names curve {show(named)} but its type is for {curve_name}"
        )
    curve = EC_CURVES[curve_name]
    point = reader.string()
    coordinate_size = (curve.key_size + 7) // 8
    # OpenSSH writes uncompressed points; another encoding is another blob.
    if len(point) != 1 + 2 * coordinate_size or point[0] != 4:
        raise InvalidKeypair(f"the ECDSA public point is not an uncompressed {curve_name} point")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError:
        raise InvalidKeypair(f"the ECDSA public point is not on the curve {curve_name}") from None
    return curve.key_size


def _check_application(reader: BlobReader) -> None:
    # FIDO keys end with the relying-party id, e.g. "ssh:"; OpenSSH reads it as
    # a C string, so it can hold no NUL.
    application = reader.string()
    if not application or b"\0" in application:
        raise InvalidKeypair("the security key's application string is invalid")


def _check_blob(key_type: KeyType, blob: bytes, min_rsa_bits: int) -> int:
    """Validate a decoded key blob against its label; return the key's bits."""
    reader = BlobReader(blob)
    embedded = reader.string()
    if embedded != key_type.label.encode():
        raise InvalidKeypair(
            f"the key data is of type {show(embedded)} but the line says "
            f"{key_type.label}; they do not match"
        )
    if key_type.algorithm == "rsa":
        bits = _check_rsa(reader, min_rsa_bits)
    elif key_type.curve is not None:
        bits = _check_ecdsa(reader, key_type.curve)
    else:
        bits = _check_ed25519(reader)
    if key_type.security_key:
        _check_application(reader)
    if reader.remaining:
        raise InvalidKeypair(f"the key data has {reader.remaining} unexpected trailing bytes")
    return bits


def decode_base64(token: str) -> bytes:
    """The blob of a key's base64 field, which must be canonical base64."""
    if not token.isascii():
        raise InvalidKeypair(
            "the base64 key data contains non-ASCII characters (look-alike letters?)"
        )
    # Up to two "=" may pad the end; anything else must be in the alphabet.
    padding = min(2, len(token) - len(token.rstrip("=")))
    body = token[: len(token) - padding]
    if not _BASE64_BODY.fullmatch(body):
        position, char = next((i, c) for i, c in enumerate(body) if c not in _BASE64_ALPHABET)
        raise InvalidKeypair(
            f"the key data is not valid base64 (character {char!r} at position {position})"
        )
    if len(token) % 4:
        raise InvalidKeypair(
            "the key data is not valid base64 (truncated: its length is not a multiple of 4)"
        )
    blob = base64.b64decode(token, validate=True)
    if base64.b64encode(blob).decode("ascii") != token:
        raise InvalidKeypair("the key data is not canonical base64")
    return blob


# --- the line ------------------------------------------------------------------


def _reject_other_formats(text: str) -> None:
    """Name the format of multi-line input that is not an OpenSSH line."""
    if "PuTTY-User-Key-File-" in text:
        raise InvalidKeypair("this is a private key (PuTTY); provide the public key only")
    if RFC4716_BEGIN in text:
        raise InvalidKeypair(
            "RFC 4716 (SSH2) public keys are not accepted here; only the OpenSSH "
            "one-line format is accepted ('ssh-ed25519 AAAA... comment')"
        )
    for match in PEM_BEGIN.finditer(text):
        what = match.group(1)
        if "PRIVATE KEY" in what:
            raise InvalidKeypair(
                "this is a private key, not a public key; provide the public key only"
            )
        if what in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
            raise InvalidKeypair(
                "this is an X.509 certificate, not an SSH public key (import it with type x509)"
            )
        raise InvalidKeypair(
            f"PEM input ({what}) is not accepted here; only the OpenSSH one-line "
            "format is accepted ('ssh-ed25519 AAAA... comment')"
        )


def _check_characters(line: str) -> None:
    if line.isascii():
        found = _ASCII_CONTROL.search(line)
        bad = found.group() if found else None
    else:
        bad = next(
            (c for c in line if c != "\t" and unicodedata.category(c) in FORBIDDEN_CATEGORIES),
            None,
        )
    if bad is not None:
        raise InvalidKeypair(
            f"the public key contains a control or invisible character (U+{ord(bad):04X})"
        )


def _label_error(label: str, tokens: list[str]) -> InvalidKeypair:
    """Explain why the first field is not a supported key type."""
    if _AUTHORIZED_KEYS_OPTION.match(label) or any(t in KEY_TYPES for t in tokens):
        return InvalidKeypair(
            'authorized_keys options (such as command="..." or no-pty) are not '
            "allowed before the key; provide only the key"
        )
    if not label.isascii():
        return InvalidKeypair(
            f"the key type {show(label)} contains non-ASCII characters (look-alike letters?)"
        )
    if label == "ssh-dss":
        return InvalidKeypair(
            "DSA keys (ssh-dss) are not supported; use ssh-ed25519, ecdsa or ssh-rsa"
        )
    if "-cert-v01@openssh.com" in label:
        return InvalidKeypair(
            f"OpenSSH certificates ({show(label)}) are not supported; import the plain public key"
        )
    if label.startswith("AAAA"):
        return InvalidKeypair("the key type is missing before the base64 key data")
    if label.lower() in KEY_TYPES:
        return InvalidKeypair(
            f"unknown key type {show(label)} (key types are case-sensitive: {label.lower()})"
        )
    return InvalidKeypair(f"unknown key type {show(label)}; supported: {_SUPPORTED_LABELS}")


def _check_allowed(key_type: KeyType, allowed: Collection[str] | None) -> None:
    if allowed is None or key_type.algorithm in allowed:
        return
    raise InvalidKeypair(
        f"key type {key_type.label} is not allowed here (allowed: "
        f"{', '.join(sorted(allowed)) or 'none'})"
    )


def _single_line(text: str) -> str:
    """The one line of text: only one line end, "\\n" or "\\r\\n", may follow it."""
    # Notepad and PuTTYgen save "\r\n"; like Nova, one such end is one line.
    line = text.removesuffix("\r\n") if text.endswith("\r\n") else text.removesuffix("\n")
    if "\n" in line or "\r" in line:
        raise InvalidKeypair(
            "the public key must be a single line; it contains a line break "
            "(only one key, optionally followed by one newline, is accepted)"
        )
    return line


def ssh_public_key(key_type: KeyType, bits: int, blob: bytes, comment: str) -> PublicKey:
    """The record of a checked blob, with its canonical line and fingerprints."""
    encoded = base64.b64encode(blob).decode("ascii")
    line = f"{key_type.label} {encoded}" + (f" {comment}" if comment else "")
    return PublicKey(
        type="ssh",
        algorithm=key_type.algorithm,
        bits=bits,
        label=key_type.label,
        comment=comment,
        openssh_line=line,
        fingerprint=md5_fingerprint(blob),
        fingerprint_sha256=sha256_fingerprint(blob),
    )


def parse_openssh_public_key(
    text: str,
    *,
    min_rsa_bits: int = 2048,
    allowed_algorithms: Collection[str] | None = None,
) -> PublicKey:
    """Validate one OpenSSH public-key line, as Nova's import accepts it.

    ``text`` is one line ``label base64[ comment]`` (any blanks between the
    fields), optionally ending in a single ``"\\n"`` or ``"\\r\\n"``.
    ``allowed_algorithms`` (names from ALGORITHMS) restricts the accepted
    types when given.
    """
    check_length(text)
    if not text.strip():
        raise InvalidKeypair("the public key is empty")
    _reject_other_formats(text)
    line = _single_line(text).strip(" \t")
    _check_characters(line)
    fields = _FIELD_SEPARATOR.split(line, maxsplit=2)
    label = fields[0]
    key_type = KEY_TYPES.get(label)
    if key_type is None:
        raise _label_error(label, _FIELD_SEPARATOR.split(line)[1:])
    if len(fields) < 2:
        raise InvalidKeypair(f"there is no base64 key data after {label}")
    _check_allowed(key_type, allowed_algorithms)
    blob = decode_base64(fields[1])
    bits = _check_blob(key_type, blob, min_rsa_bits)
    comment = fields[2] if len(fields) > 2 else ""
    return ssh_public_key(key_type, bits, blob, comment)
