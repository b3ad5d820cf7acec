"""Parse and fingerprint public keys and certificates; generate key pairs.

Pure functions: no configuration, database, HTTP or logging.  Every input
that cannot be accepted raises :class:`InvalidKeypair` with a reason that
tells the user what is wrong; reasons never echo key material beyond a
short, escaped excerpt of the offending token.

The compatible import (:func:`parse_openssh_public_key`) accepts exactly
what Nova stores: one OpenSSH public-key line.  The blob inside that line is
decoded and checked field by field, and the fingerprints are computed over
that very blob, so what is fingerprinted is what ``authorized_keys`` gets.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import os
import re
import struct
import unicodedata
from collections.abc import Callable, Collection
from typing import Any

from argon2.low_level import Type as Argon2Type
from argon2.low_level import hash_secret_raw
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keypairs_ext.exception import InvalidKeypair

__all__ = [
    "ALGORITHMS",
    "GENERATABLE_ALGORITHMS",
    "PRIVATE_KEY_FORMATS",
    "GeneratedKeypair",
    "PublicKey",
    "generate_ssh_keypair",
    "generate_x509_keypair",
    "parse_openssh_public_key",
    "parse_public_key_any",
    "parse_x509_certificate",
]


@dataclasses.dataclass(frozen=True)
class PublicKey:
    """What the service knows about an accepted public key or certificate."""

    type: str  # "ssh" or "x509"
    algorithm: str  # one of ALGORITHMS
    bits: int  # RSA modulus bits; curve size for ed25519/ecdsa
    label: str  # the OpenSSH type label ("" for x509)
    comment: str  # the comment field of the line ("" if none)
    openssh_line: str  # canonical "label base64[ comment]" ("" for x509)
    fingerprint: str  # ssh: MD5 of the blob; x509: SHA-1 of the DER
    fingerprint_sha256: str  # "SHA256:" + unpadded base64, as ssh-keygen -l


@dataclasses.dataclass(frozen=True)
class GeneratedKeypair:
    """A freshly generated key pair; private_key is shown to the user once."""

    public_key: PublicKey
    public_text: str  # stored and returned as public_key
    private_key: str


@dataclasses.dataclass(frozen=True)
class _KeyType:
    label: str
    algorithm: str
    curve: str | None = None  # the SSH curve identifier of ecdsa keys
    security_key: bool = False  # FIDO keys carry an application string


_KEY_TYPES: dict[str, _KeyType] = {
    kt.label: kt
    for kt in (
        _KeyType("ssh-ed25519", "ed25519"),
        _KeyType("ecdsa-sha2-nistp256", "ecdsa-p256", "nistp256"),
        _KeyType("ecdsa-sha2-nistp384", "ecdsa-p384", "nistp384"),
        _KeyType("ecdsa-sha2-nistp521", "ecdsa-p521", "nistp521"),
        _KeyType("ssh-rsa", "rsa"),
        _KeyType("sk-ssh-ed25519@openssh.com", "sk-ed25519", security_key=True),
        _KeyType(
            "sk-ecdsa-sha2-nistp256@openssh.com",
            "sk-ecdsa-p256",
            "nistp256",
            security_key=True,
        ),
    )
}

ALGORITHMS: tuple[str, ...] = tuple(kt.algorithm for kt in _KEY_TYPES.values())
GENERATABLE_ALGORITHMS = ("rsa", "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521")
PRIVATE_KEY_FORMATS = ("openssh", "pkcs8", "pem", "ppk")
RSA_GENERATION_BITS = (2048, 3072, 4096)

_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "nistp256": ec.SECP256R1(),
    "nistp384": ec.SECP384R1(),
    "nistp521": ec.SECP521R1(),
}
_ALGORITHM_CURVES = {
    "ecdsa-p256": "nistp256",
    "ecdsa-p384": "nistp384",
    "ecdsa-p521": "nistp521",
}

# OpenSSH refuses RSA moduli above 16384 bits; larger ones only cost CPU.
_MAX_RSA_BITS = 16384
# OpenSSL's bound on public exponents: anything bigger is an attack or a bug.
_MAX_RSA_EXPONENT_BITS = 64
# A 16384-bit RSA line is under 3 KB; this leaves room for a long comment.
_MAX_PUBLIC_KEY_CHARS = 16384
_MAX_CERTIFICATE_CHARS = 65536
# ub-common-name in RFC 5280.
_MAX_CN_CHARS = 64

_SUPPORTED_LABELS = ", ".join(_KEY_TYPES)
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/]*")
_FIELD_SEPARATOR = re.compile(r"[ \t]+")
# Character classes that make a line render differently from what it is.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_AUTHORIZED_KEYS_OPTION = re.compile(
    r"(?i)(?:no-)?(?:agent-forwarding|port-forwarding|pty|user-rc|x11-forwarding"
    r"|touch-required|verify-required|restrict|cert-authority|command|environment"
    r"|expiry-time|from|permitlisten|permitopen|principals|tunnel)(?:[=,]|$)"
)
_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
_RFC4716_END = "---- END SSH2 PUBLIC KEY ----"
_PEM_PUBLIC_BEGINS = ("-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----")


# --- SSH wire format -------------------------------------------------------


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _ssh_mpint(value: int) -> bytes:
    # Positive two's complement: a leading zero byte when the top bit is set.
    return _ssh_string(value.to_bytes(value.bit_length() // 8 + 1, "big") if value else b"")


class _BlobReader:
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


# --- fingerprints ------------------------------------------------------------


def _md5_fingerprint(data: bytes) -> str:
    # MD5 is what Nova and `ssh-keygen -E md5` print; it identifies, not secures.
    return hashlib.md5(data, usedforsecurity=False).digest().hex(":")


def _sha1_fingerprint(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).digest().hex(":")


def _sha256_fingerprint(data: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


# --- blob validation --------------------------------------------------------


def _show(token: str | bytes, limit: int = 40) -> str:
    """An escaped, truncated excerpt of user input, safe to put in a reason."""
    if isinstance(token, bytes):
        token = token.decode("ascii", errors="backslashreplace")
    excerpt = ascii(token[:limit])
    return excerpt + ("..." if len(token) > limit else "")


def _check_rsa(reader: _BlobReader, min_rsa_bits: int) -> int:
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


def _check_ed25519(reader: _BlobReader) -> int:
    point = reader.string()
    if len(point) != 32:
        raise InvalidKeypair(f"an Ed25519 public key is 32 bytes, this one is {len(point)} bytes")
    return 256


def _check_ecdsa(reader: _BlobReader, curve_name: str) -> int:
    named = reader.string()
    if named != curve_name.encode():
        raise InvalidKeypair(
            f"the key data names curve {_show(named)} but its type is for {curve_name}"
        )
    curve = _EC_CURVES[curve_name]
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


def _check_application(reader: _BlobReader) -> None:
    # FIDO keys end with the relying-party id, e.g. "ssh:"; OpenSSH reads it as
    # a C string, so it can hold no NUL.
    application = reader.string()
    if not application or b"\0" in application:
        raise InvalidKeypair("the security key's application string is invalid")


def _check_blob(key_type: _KeyType, blob: bytes, min_rsa_bits: int) -> int:
    """Validate a decoded key blob against its label; return the key's bits."""
    reader = _BlobReader(blob)
    embedded = reader.string()
    if embedded != key_type.label.encode():
        raise InvalidKeypair(
            f"the key data is of type {_show(embedded)} but the line says "
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


def _decode_base64(token: str) -> bytes:
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


# --- the one-line OpenSSH format ------------------------------------------------


def _check_length(text: str, limit: int = _MAX_PUBLIC_KEY_CHARS) -> None:
    if len(text) > limit:
        raise InvalidKeypair(f"the input is too long ({len(text)} characters; at most {limit})")


def _reject_other_formats(text: str) -> None:
    """Name the format of multi-line input that is not an OpenSSH line."""
    if "PuTTY-User-Key-File-" in text:
        raise InvalidKeypair("this is a private key (PuTTY); provide the public key only")
    if _RFC4716_BEGIN in text:
        raise InvalidKeypair(
            "RFC 4716 (SSH2) public keys are not accepted here; only the OpenSSH "
            "one-line format is accepted ('ssh-ed25519 AAAA... comment')"
        )
    for match in _PEM_BEGIN.finditer(text):
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


# Of the ASCII controls, only the tab may appear in a key line.
_ASCII_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _check_characters(line: str) -> None:
    if line.isascii():
        found = _ASCII_CONTROL.search(line)
        bad = found.group() if found else None
    else:
        bad = next(
            (c for c in line if c != "\t" and unicodedata.category(c) in _FORBIDDEN_CATEGORIES),
            None,
        )
    if bad is not None:
        raise InvalidKeypair(
            f"the public key contains a control or invisible character (U+{ord(bad):04X})"
        )


def _label_error(label: str, tokens: list[str]) -> InvalidKeypair:
    """Explain why the first field is not a supported key type."""
    if _AUTHORIZED_KEYS_OPTION.match(label) or any(t in _KEY_TYPES for t in tokens):
        return InvalidKeypair(
            'authorized_keys options (such as command="..." or no-pty) are not '
            "allowed before the key; provide only the key"
        )
    if not label.isascii():
        return InvalidKeypair(
            f"the key type {_show(label)} contains non-ASCII characters (look-alike letters?)"
        )
    if label == "ssh-dss":
        return InvalidKeypair(
            "DSA keys (ssh-dss) are not supported; use ssh-ed25519, ecdsa or ssh-rsa"
        )
    if "-cert-v01@openssh.com" in label:
        return InvalidKeypair(
            f"OpenSSH certificates ({_show(label)}) are not supported; import the plain public key"
        )
    if label.startswith("AAAA"):
        return InvalidKeypair("the key type is missing before the base64 key data")
    if label.lower() in _KEY_TYPES:
        return InvalidKeypair(
            f"unknown key type {_show(label)} (key types are case-sensitive: {label.lower()})"
        )
    return InvalidKeypair(f"unknown key type {_show(label)}; supported: {_SUPPORTED_LABELS}")


def _check_allowed(key_type: _KeyType, allowed: Collection[str] | None) -> None:
    if allowed is None or key_type.algorithm in allowed:
        return
    raise InvalidKeypair(
        f"key type {key_type.label} is not allowed here (allowed: "
        f"{', '.join(sorted(allowed)) or 'none'})"
    )


def _single_line(text: str) -> str:
    """The one line of text: only a single final "\\n" may follow it."""
    line = text[:-1] if text.endswith("\n") else text
    if "\n" in line or "\r" in line:
        raise InvalidKeypair(
            "the public key must be a single line; it contains a line break "
            "(only one key, optionally followed by one newline, is accepted)"
        )
    return line


def _parse_line(
    text: str, min_rsa_bits: int, allowed_algorithms: Collection[str] | None
) -> PublicKey:
    _check_length(text)
    if not text.strip():
        raise InvalidKeypair("the public key is empty")
    _reject_other_formats(text)
    line = _single_line(text).strip(" \t")
    _check_characters(line)
    fields = _FIELD_SEPARATOR.split(line, maxsplit=2)
    label = fields[0]
    key_type = _KEY_TYPES.get(label)
    if key_type is None:
        raise _label_error(label, _FIELD_SEPARATOR.split(line)[1:])
    if len(fields) < 2:
        raise InvalidKeypair(f"there is no base64 key data after {label}")
    _check_allowed(key_type, allowed_algorithms)
    blob = _decode_base64(fields[1])
    bits = _check_blob(key_type, blob, min_rsa_bits)
    comment = fields[2] if len(fields) > 2 else ""
    return _ssh_public_key(key_type, bits, blob, comment)


def _ssh_public_key(key_type: _KeyType, bits: int, blob: bytes, comment: str) -> PublicKey:
    encoded = base64.b64encode(blob).decode("ascii")
    line = f"{key_type.label} {encoded}" + (f" {comment}" if comment else "")
    return PublicKey(
        type="ssh",
        algorithm=key_type.algorithm,
        bits=bits,
        label=key_type.label,
        comment=comment,
        openssh_line=line,
        fingerprint=_md5_fingerprint(blob),
        fingerprint_sha256=_sha256_fingerprint(blob),
    )


def parse_openssh_public_key(
    text: str,
    *,
    min_rsa_bits: int = 2048,
    allowed_algorithms: Collection[str] | None = None,
) -> PublicKey:
    """Validate one OpenSSH public-key line, as Nova's import accepts it.

    ``text`` is one line ``label base64[ comment]`` (any blanks between the
    fields), optionally ending in a single ``"\\n"``.  ``allowed_algorithms``
    (names from ALGORITHMS) restricts the accepted types when given.
    """
    return _parse_line(text, min_rsa_bits, allowed_algorithms)


# --- the extended import: RFC 4716 and PEM -----------------------------------


def _rfc4716_headers(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split the lines between BEGIN and END into headers and base64 lines."""
    headers: dict[str, str] = {}
    index = 0
    while index < len(lines) and ":" in lines[index]:
        header = lines[index]
        index += 1
        # A header value continues on the next line after a final backslash.
        while header.endswith("\\"):
            if index >= len(lines):
                raise InvalidKeypair("an RFC 4716 header continues past the key")
            header = header[:-1] + lines[index]
            index += 1
        tag, _, value = header.partition(":")
        headers[tag.strip().lower()] = value.strip()
    body = lines[index:]
    if any(":" in line for line in body):
        raise InvalidKeypair("an RFC 4716 header appears after the key data")
    return headers, body


def _rfc4716_to_line(text: str) -> str:
    lines = text.split("\n")
    if (
        lines[0].strip() != _RFC4716_BEGIN
        or lines[-1].strip() != _RFC4716_END
        or text.count(_RFC4716_BEGIN) != 1
    ):
        raise InvalidKeypair(
            f"an RFC 4716 key must be one block from '{_RFC4716_BEGIN}' to "
            f"'{_RFC4716_END}' and nothing after it"
        )
    headers, body = _rfc4716_headers(lines[1:-1])
    data = "".join(part.strip(" \t") for part in body)
    comment = headers.get("comment", "")
    if len(comment) >= 2 and comment[0] == comment[-1] == '"':
        comment = comment[1:-1]
    label = _BlobReader(_decode_base64(data)).string()
    if not (label.isascii() and label.decode("ascii").isprintable()):
        raise InvalidKeypair("the key data does not start with a valid key type")
    return f"{label.decode('ascii')} {data} {comment}".rstrip()


def _pem_to_line(text: str) -> str:
    if len(_PEM_BEGIN.findall(text)) != 1 or not text.rstrip().endswith("-----"):
        raise InvalidKeypair("a PEM public key must be one block and nothing else")
    try:
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except UnicodeEncodeError:
        raise InvalidKeypair("the PEM public key has non-ASCII characters") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKeypair("the PEM public key could not be parsed") from None
    if isinstance(key, dsa.DSAPublicKey):
        raise InvalidKeypair(
            "DSA keys (ssh-dss) are not supported; use ssh-ed25519, ecdsa or ssh-rsa"
        )
    supported = (rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)
    try:
        if not isinstance(key, supported):
            raise ValueError(type(key).__name__)
        return key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode("ascii")
    except ValueError:
        raise InvalidKeypair(
            "the PEM public key is of an unsupported type; supported: RSA, "
            "Ed25519, ECDSA P-256/P-384/P-521"
        ) from None


def parse_public_key_any(
    text: str,
    *,
    min_rsa_bits: int = 2048,
    allowed_algorithms: Collection[str] | None = None,
) -> PublicKey:
    """Validate a public key in OpenSSH, RFC 4716 or PEM form (SPEC section 6).

    PEM covers SubjectPublicKeyInfo (``BEGIN PUBLIC KEY``) and PKCS#1
    (``BEGIN RSA PUBLIC KEY``).  LF or CRLF line ends.  The result's
    ``openssh_line`` is the canonical one line, with the RFC 4716
    ``Comment:`` header as its comment.  The key itself is held to exactly
    the rules of :func:`parse_openssh_public_key`.
    """
    _check_length(text)
    normalized = text.replace("\r\n", "\n").strip(" \t\n")
    if normalized.startswith(_RFC4716_BEGIN):
        line = _rfc4716_to_line(normalized)
    elif normalized.startswith(_PEM_PUBLIC_BEGINS):
        line = _pem_to_line(normalized)
    elif any(begin in normalized for begin in (_RFC4716_BEGIN, *_PEM_PUBLIC_BEGINS)):
        raise InvalidKeypair("unexpected text before the key's BEGIN line")
    else:
        line = normalized
    return _parse_line(line, min_rsa_bits, allowed_algorithms)


# --- X.509 certificates --------------------------------------------------------


def _describe_key(key: object) -> tuple[str, int]:
    """(algorithm, bits) of a cryptography public key we support."""
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256
    if isinstance(key, ec.EllipticCurvePublicKey):
        for name, curve in _EC_CURVES.items():
            if curve.name == key.curve.name:
                return "ecdsa-p" + name.removeprefix("nistp"), curve.key_size
    raise InvalidKeypair(
        "the certificate's key type is not supported; supported: RSA, Ed25519, "
        "ECDSA P-256/P-384/P-521"
    )


def _x509_public_key(certificate: x509.Certificate) -> PublicKey:
    try:
        algorithm, bits = _describe_key(certificate.public_key())
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKeypair("the certificate's key could not be read") from None
    der = certificate.public_bytes(serialization.Encoding.DER)
    return PublicKey(
        type="x509",
        algorithm=algorithm,
        bits=bits,
        label="",
        comment="",
        openssh_line="",
        fingerprint=_sha1_fingerprint(der),
        fingerprint_sha256=_sha256_fingerprint(der),
    )


_ONE_PEM_CERTIFICATE = re.compile(
    r"[ \t\r\n]*-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+"
    r"-----END CERTIFICATE-----[ \t\r\n]*"
)


def parse_x509_certificate(text: str) -> PublicKey:
    """Validate one PEM X.509 certificate, as Nova's x509 import accepts it."""
    _check_length(text, _MAX_CERTIFICATE_CHARS)
    if not text.strip():
        raise InvalidKeypair("the certificate is empty")
    if not text.isascii():
        raise InvalidKeypair("the certificate contains non-ASCII characters")
    labels = _PEM_BEGIN.findall(text)
    if any("PRIVATE KEY" in label for label in labels):
        raise InvalidKeypair("the input contains a private key; provide only the certificate")
    if not _ONE_PEM_CERTIFICATE.fullmatch(text):
        # The text is stored and served as sent (metadata public_keys, which
        # cloud-init writes to authorized_keys): nothing may ride along.
        raise InvalidKeypair(
            "an x509 public_key must be one PEM certificate "
            "('-----BEGIN CERTIFICATE-----' ... '-----END CERTIFICATE-----') and nothing else"
        )
    try:
        certificate = x509.load_pem_x509_certificate(text.encode("ascii"))
    except ValueError:
        raise InvalidKeypair("the X.509 certificate could not be parsed") from None
    return _x509_public_key(certificate)


# --- generation -------------------------------------------------------------------

_PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _resolve_bits(algorithm: str, bits: int | None) -> int:
    if algorithm not in GENERATABLE_ALGORITHMS:
        hint = (
            " (security keys are made on the user's authenticator)"
            if algorithm in ALGORITHMS
            else ""
        )
        raise InvalidKeypair(
            f"cannot generate algorithm {_show(algorithm)}{hint}; choose one of "
            + ", ".join(GENERATABLE_ALGORITHMS)
        )
    if algorithm == "rsa":
        allowed: tuple[int, ...] = RSA_GENERATION_BITS
    elif algorithm == "ed25519":
        allowed = (256,)
    else:
        allowed = (_EC_CURVES[_ALGORITHM_CURVES[algorithm]].key_size,)
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
            f"unknown private key format {_show(private_key_format)}; choose one "
            "of " + ", ".join(PRIVATE_KEY_FORMATS)
        )
    if private_key_format == "pem" and algorithm == "ed25519":
        raise InvalidKeypair(
            "an ed25519 private key has no traditional PEM form; use the openssh or pkcs8 format"
        )
    if passphrase is not None and not passphrase:
        raise InvalidKeypair("passphrase must not be empty")
    if any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in comment):
        raise InvalidKeypair("the comment must be one line without control characters")


def new_private_key(algorithm: str, bits: int) -> _PrivateKey:
    """A fresh private key of a generatable algorithm and size."""
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(_EC_CURVES[_ALGORITHM_CURVES[algorithm]])


def _openssh_public(key: _PrivateKey) -> tuple[str, bytes]:
    """(label, blob) of the key's public half."""
    line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    label, encoded = line.split(" ")[:2]
    return label, base64.b64decode(encoded)


def _serialize_private(
    key: _PrivateKey, private_key_format: str, passphrase: str | None, comment: str
) -> str:
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
    of pre-generated keys); otherwise it is made here.
    """
    bits = _resolve_bits(algorithm, bits)
    comment = comment.strip(" \t")
    _check_generation_options(algorithm, private_key_format, passphrase, comment)
    key = (new_key or new_private_key)(algorithm, bits)
    label, blob = _openssh_public(key)
    public_key = _ssh_public_key(_KEY_TYPES[label], bits, blob, comment)
    return GeneratedKeypair(
        public_key=public_key,
        public_text=public_key.openssh_line,
        private_key=_serialize_private(key, private_key_format, passphrase, comment),
    )


# --- PuTTY private key files (PPK format 3) ---------------------------------------
# Neither cryptography nor asyncssh writes PPK.  The format is specified in
# the PuTTY manual, appendix C: a text file whose MAC covers every field, with
# the private blob encrypted by AES-256-CBC under keys from Argon2id.

_PPK_ARGON2_MEMORY_KIB = 8192  # PuTTY's default
_PPK_ARGON2_PASSES = 13  # what puttygen picks for ~0.1 s on common hardware
_PPK_ARGON2_PARALLELISM = 1


def _ppk_private_blob(key: _PrivateKey) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        # PuTTY's order; iqmp is q^-1 mod p, as cryptography computes it.
        return b"".join(_ssh_mpint(n) for n in (numbers.d, numbers.p, numbers.q, numbers.iqmp))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _ssh_string(key.private_bytes_raw())
    return _ssh_mpint(key.private_numbers().private_value)


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
    data = b"".join(_ssh_string(field) for field in fields)
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


def _ppk(key: _PrivateKey, comment: str, passphrase: str | None) -> str:
    label, public_blob = _openssh_public(key)
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


# --- X.509 generation (Nova's WinRM client certificate) ----------------------------

# Microsoft's User Principal Name, which WinRM maps to a local account.
_UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
_CERTIFICATE_DAYS = 3650


def _der_utf8_string(text: str) -> bytes:
    data = text.encode("utf-8")
    length = len(data)
    if length < 0x80:
        header = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        header = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return b"\x0c" + header + data


def _check_common_name(user_id: str) -> None:
    if not user_id:
        raise InvalidKeypair(
            f"the user id is empty; a certificate common name needs 1 to {_MAX_CN_CHARS} characters"
        )
    if len(user_id) > _MAX_CN_CHARS:
        raise InvalidKeypair(
            f"the user id is {len(user_id)} characters, too long for a certificate "
            f"common name (at most {_MAX_CN_CHARS})"
        )


def _client_certificate(key: rsa.RSAPrivateKey, user_id: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    upn = x509.OtherName(_UPN_OID, _der_utf8_string(f"{user_id}@localhost"))
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=_CERTIFICATE_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([upn]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def generate_x509_keypair(user_id: str) -> GeneratedKeypair:
    """A self-signed client-auth certificate for ``user_id``, as Nova makes.

    RSA 2048, CN = user_id, clientAuth, UPN ``<user_id>@localhost``, 10 years.
    ``private_key`` is base64 of a PKCS#12 bundle opened with an empty password.
    """
    _check_common_name(user_id)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    try:
        certificate = _client_certificate(key, user_id)
    except ValueError:
        raise InvalidKeypair("the user id cannot be written into a certificate") from None
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, certificate, None, serialization.NoEncryption()
    )
    return GeneratedKeypair(
        public_key=_x509_public_key(certificate),
        public_text=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key=base64.b64encode(bundle).decode("ascii"),
    )
