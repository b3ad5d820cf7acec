"""keypairs_ext.crypto.openssh: the one-line import, checked against ssh-keygen."""

from __future__ import annotations

from pathlib import Path

import pytest

from keypairs_ext import crypto
from keypairs_ext.exception import InvalidKeypair
from tests.unit.crypto.malformed_keys import build_corpus
from tests.unit.crypto.support import (
    KEYGEN_KEYS,
    keygen_fingerprints,
    sk_line,
)


@pytest.mark.parametrize("name", KEYGEN_KEYS)
def test_fingerprints_match_ssh_keygen(keygen_dir: Path, name: str) -> None:
    path = keygen_dir / f"{name}.pub"
    line = path.read_text()
    key = crypto.parse_openssh_public_key(line)
    bits, md5, sha256 = keygen_fingerprints(path)
    assert (key.fingerprint, key.fingerprint_sha256, key.bits) == (md5, sha256, bits)
    assert (key.type, key.algorithm, key.bits) == ("ssh", *KEYGEN_KEYS[name][1:])
    assert key.label == line.split()[0]
    assert key.comment == f"{name} test key"
    assert key.openssh_line == line.rstrip("\n")


@pytest.mark.parametrize(
    "name, algorithm", [("ed25519", "sk-ed25519"), ("ecdsa-256", "sk-ecdsa-p256")]
)
def test_security_key_fingerprints_match_ssh_keygen(
    keygen_dir: Path, tmp_path: Path, name: str, algorithm: str
) -> None:
    line = sk_line(keygen_dir, name)
    path = tmp_path / "sk.pub"
    path.write_text(line + "\n")
    key = crypto.parse_openssh_public_key(line)
    assert (key.bits, key.fingerprint, key.fingerprint_sha256) == keygen_fingerprints(path)
    assert (key.algorithm, key.comment, key.openssh_line) == (
        algorithm,
        "fido key",
        line,
    )


@pytest.mark.parametrize(
    "variant",
    [
        "{label}\t{data}\t{comment}",
        "{label}   {data}  \t {comment}",
        "  {label} {data} {comment}  ",
        "{label} {data} {comment}\n",
    ],
)
def test_any_blanks_between_fields(keygen_dir: Path, variant: str) -> None:
    label, data, comment = (keygen_dir / "ed25519.pub").read_text().split(maxsplit=2)
    comment = comment.strip()
    key = crypto.parse_openssh_public_key(variant.format(label=label, data=data, comment=comment))
    assert key.openssh_line == f"{label} {data} {comment}"
    assert key.fingerprint == keygen_fingerprints(keygen_dir / "ed25519.pub")[1]


def test_comment_is_optional_and_may_hold_spaces_and_unicode(keygen_dir: Path) -> None:
    label, data = (keygen_dir / "ed25519.pub").read_text().split()[:2]
    assert crypto.parse_openssh_public_key(f"{label} {data}").comment == ""
    assert crypto.parse_openssh_public_key(f"{label} {data} \n").comment == ""
    key = crypto.parse_openssh_public_key(f"{label} {data} Jos\u00e9 at  home")
    assert key.comment == "Jos\u00e9 at  home"


def test_allowed_algorithms_restricts_types(keygen_dir: Path) -> None:
    rsa_line = (keygen_dir / "rsa-2048.pub").read_text()
    assert crypto.parse_openssh_public_key(rsa_line, allowed_algorithms={"rsa"})
    with pytest.raises(InvalidKeypair, match="key type ssh-rsa is not allowed here"):
        crypto.parse_openssh_public_key(rsa_line, allowed_algorithms=("ed25519", "ecdsa-p256"))


def test_min_rsa_bits_is_configurable(keygen_dir: Path) -> None:
    rsa_line = (keygen_dir / "rsa-2048.pub").read_text()
    with pytest.raises(InvalidKeypair, match="2048 bits; at least 3072 bits"):
        crypto.parse_openssh_public_key(rsa_line, min_rsa_bits=3072)
    assert (
        crypto.parse_openssh_public_key(
            (keygen_dir / "rsa-3072.pub").read_text(), min_rsa_bits=3072
        ).bits
        == 3072
    )


def test_corpus_is_large_and_distinct() -> None:
    corpus = build_corpus()
    assert len(corpus) >= 40
    assert len({case.id for case in corpus}) == len(corpus)
    assert len({case.text for case in corpus}) == len(corpus)


@pytest.mark.parametrize(
    "text, reason",
    [case[1:] for case in build_corpus()],
    ids=[case.id for case in build_corpus()],
)
def test_malformed_key_is_rejected_with_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidKeypair) as raised:
        crypto.parse_openssh_public_key(text)
    assert reason in str(raised.value)
    assert str(raised.value).startswith("Keypair data is invalid: ")


def test_one_final_crlf_is_a_line_end(keygen_dir: Path) -> None:
    line = (keygen_dir / "ed25519.pub").read_text()
    windows = line.replace("\n", "\r\n")
    assert crypto.parse_openssh_public_key(windows) == crypto.parse_openssh_public_key(line)
