"""keypairs_ext.crypto.rfc4716_pem: what ssh-keygen exports imports as the same key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed448, rsa

from keypairs_ext import crypto
from keypairs_ext.exception import InvalidKeypair
from tests.conftest import run_program as run
from tests.unit.crypto.malformed_keys import MalformedKey, b64, build_corpus, ssh_string
from tests.unit.crypto.support import (
    KEYGEN_KEYS,
    key_part,
)

EXPORTS = [
    (name, mode)
    for name in KEYGEN_KEYS
    for mode in ("RFC4716", "PKCS8", "PEM")
    if not (name == "ed25519" and mode != "RFC4716")
]  # ssh-keygen 9.2 can't


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("name, mode", EXPORTS)
def test_exported_formats_import_to_the_same_key(
    keygen_dir: Path, name: str, mode: str, crlf: bool
) -> None:
    path = keygen_dir / f"{name}.pub"
    exported = run("ssh-keygen", "-e", "-m", mode, "-f", path)
    if crlf:
        exported = exported.replace("\n", "\r\n")
    key = crypto.parse_public_key_any(exported)
    original = crypto.parse_openssh_public_key(path.read_text())
    assert key_part(key.openssh_line) == key_part(original.openssh_line)
    assert (key.fingerprint, key.fingerprint_sha256) == (
        original.fingerprint,
        original.fingerprint_sha256,
    )
    if mode == "RFC4716":
        # ssh-keygen writes Comment: "<bits>-bit <TYPE>, converted by ...".
        assert key.comment.startswith(f"{original.bits}-bit ")
        assert key.openssh_line == f"{key_part(original.openssh_line)} {key.comment}"
    else:
        assert key.comment == "" and key.openssh_line == key_part(original.openssh_line)


def test_ed25519_subject_public_key_info_imports(keygen_dir: Path) -> None:
    line = (keygen_dir / "ed25519.pub").read_text()
    loaded = serialization.load_ssh_public_key(line.encode())
    pem = loaded.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = crypto.parse_public_key_any(pem.decode())
    assert key.openssh_line == key_part(line)


def test_rfc4716_headers_with_continuation_lines(keygen_dir: Path) -> None:
    label, data = (keygen_dir / "rsa-2048.pub").read_text().split()[:2]
    body = "\r\n".join(data[i : i + 70] for i in range(0, len(data), 70))
    text = (
        "---- BEGIN SSH2 PUBLIC KEY ----\r\n"
        "x-command: /bin/true\r\n"
        'Comment: "a comment that is long enough to be \\\r\n'
        'continued over two lines"\r\n'
        "Subject: me\r\n"
        f"{body}\r\n"
        "---- END SSH2 PUBLIC KEY ----\r\n"
    )
    key = crypto.parse_public_key_any(text)
    assert key.comment == "a comment that is long enough to be continued over two lines"
    assert key.openssh_line == f"{label} {data} {key.comment}"


def test_extended_import_accepts_an_openssh_line(keygen_dir: Path) -> None:
    line = (keygen_dir / "ecdsa-384.pub").read_text()
    assert crypto.parse_public_key_any(line.rstrip("\n") + "\r\n") == (
        crypto.parse_openssh_public_key(line)
    )


def _rfc4716(line: str) -> str:
    data = line.split()[1]
    return "\n".join(
        [
            "---- BEGIN SSH2 PUBLIC KEY ----",
            *(data[i : i + 70] for i in range(0, len(data), 70)),
            "---- END SSH2 PUBLIC KEY ----",
        ]
    )


def test_extended_import_holds_the_key_to_the_same_rules() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    weak_line = weak.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    weak_pem = weak.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    ).decode()
    for text in (_rfc4716(weak_line), weak_pem):
        with pytest.raises(InvalidKeypair, match="1024 bits; at least 2048"):
            crypto.parse_public_key_any(text)
    ok = crypto.parse_public_key_any(weak_pem, min_rsa_bits=1024, allowed_algorithms={"rsa"})
    assert ok.openssh_line == weak_line
    with pytest.raises(InvalidKeypair, match="not allowed here"):
        crypto.parse_public_key_any(weak_pem, min_rsa_bits=1024, allowed_algorithms={"ed25519"})


@pytest.mark.parametrize(
    "case",
    [case for case in build_corpus() if case.id.startswith(("private-key", "x509"))],
    ids=lambda case: case.id,
)
def test_extended_import_rejects_private_keys_and_certificates(
    case: MalformedKey,
) -> None:
    with pytest.raises(InvalidKeypair, match=case.reason):
        crypto.parse_public_key_any(case.text)


def test_extended_import_rejections(keygen_dir: Path) -> None:
    line = (keygen_dir / "ed25519.pub").read_text()
    block = _rfc4716(line)
    dsa_pem = (
        dsa.generate_private_key(1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    ed448_pem = (
        ed448.Ed448PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    dss = "ssh-dss " + b64(ssh_string(b"ssh-dss") + bytes(20))
    cases = {
        block + "\n" + block: "one block",
        block + "\n" + line: "one block",
        block.rsplit("\n", 1)[0]: "one block",
        _rfc4716(dss): "DSA",
        block.replace("\n---- END", "\nComment: late\n---- END"): "after the key",
        block.replace(line.split()[1], "Comment: x\\"): "continues past the key",
        ed448_pem: "unsupported type",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n": ("could not be parsed"),
        dsa_pem: "DSA",
        "my key:\n" + block: "text before the key's BEGIN line",
        "x" + ed448_pem: "text before the key's BEGIN line",
        block.replace("----\n", "---- junk\n", 1): "one block from",
        "": "empty",
    }
    for text, reason in cases.items():
        with pytest.raises(InvalidKeypair, match=reason):
            crypto.parse_public_key_any(text)
