"""The extended import: RFC 4716 (SSH2) and PEM public keys, made one OpenSSH line.

The key itself is then held to exactly the rules of the OpenSSH line.
"""

from __future__ import annotations

from collections.abc import Collection

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from keypairs_ext.crypto.keys import PublicKey
from keypairs_ext.crypto.openssh import (
    PEM_BEGIN,
    RFC4716_BEGIN,
    decode_base64,
    parse_openssh_public_key,
)
from keypairs_ext.crypto.text import check_length
from keypairs_ext.crypto.wire import BlobReader
from keypairs_ext.exception import InvalidKeypair

_RFC4716_END = "---- END SSH2 PUBLIC KEY ----"
_PEM_PUBLIC_BEGINS = ("-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----")


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
        lines[0].strip() != RFC4716_BEGIN
        or lines[-1].strip() != _RFC4716_END
        or text.count(RFC4716_BEGIN) != 1
    ):
        raise InvalidKeypair(
            f"an RFC 4716 key must be one block from '{RFC4716_BEGIN}' to "
            f"'{_RFC4716_END}' and nothing after it"
        )
    headers, body = _rfc4716_headers(lines[1:-1])
    data = "".join(part.strip(" \t") for part in body)
    comment = headers.get("comment", "")
    if len(comment) >= 2 and comment[0] == comment[-1] == '"':
        comment = comment[1:-1]
    label = BlobReader(decode_base64(data)).string()
    if not (label.isascii() and label.decode("ascii").isprintable()):
        raise InvalidKeypair("the key data does not start with a valid key type")
    return f"{label.decode('ascii')} {data} {comment}".rstrip()


def _pem_to_line(text: str) -> str:
    if len(PEM_BEGIN.findall(text)) != 1 or not text.rstrip().endswith("-----"):
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
    ``Comment:`` header as its comment.
    """
    check_length(text)
    normalized = text.replace("\r\n", "\n").strip(" \t\n")
    if normalized.startswith(RFC4716_BEGIN):
        line = _rfc4716_to_line(normalized)
    elif normalized.startswith(_PEM_PUBLIC_BEGINS):
        line = _pem_to_line(normalized)
    elif any(begin in normalized for begin in (RFC4716_BEGIN, *_PEM_PUBLIC_BEGINS)):
        raise InvalidKeypair("unexpected text before the key's BEGIN line")
    else:
        line = normalized
    return parse_openssh_public_key(
        line, min_rsa_bits=min_rsa_bits, allowed_algorithms=allowed_algorithms
    )
