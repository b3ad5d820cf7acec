"""User certificates and CA keys, read back by ``ssh-keygen -L``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from keypairs_ext.crypto import certificates
from tests.conftest import need_program
from tests.support import ed25519_line


@pytest.mark.parametrize("algorithm", certificates.CA_ALGORITHMS)
def test_every_ca_algorithm_signs_what_ssh_keygen_reads(algorithm: str, tmp_path: Path) -> None:
    need_program("ssh-keygen", "openssh-client")
    ca = certificates.generate_ca_key(algorithm)
    again = certificates.load_ca_private_key(certificates.ca_private_bytes(ca))
    line = certificates.sign(
        again,
        certificates.UserCertificate(
            public_key=ed25519_line(),
            serial=42,
            key_id="user=u project=p keypair=k",
            principals=["ubuntu"],
            valid_after=1_700_000_000,
            valid_before=1_700_003_600,
            extensions=["permit-pty"],
        ),
        comment="k",
    )
    path = tmp_path / "k-cert.pub"
    path.write_text(line + "\n")
    listed = subprocess.run(
        ["ssh-keygen", "-L", "-f", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Serial: 42" in listed and 'Key ID: "user=u project=p keypair=k"' in listed
    ca_line = certificates.public_line(ca, "ca")
    fingerprint = certificates.fingerprint_sha256(certificates.public_blob(ca_line))
    assert f"Signing CA: {_label(algorithm)} {fingerprint}" in listed


def _label(algorithm: str) -> str:
    return {"ed25519": "ED25519", "rsa": "RSA"}.get(algorithm, "ECDSA")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"public_key": "sk-ssh-ed25519@openssh.com AAAA"}, "cannot be issued for sk-ssh"),
        ({"principals": []}, "at least one principal"),
        ({"serial": 0}, "serial is out of range"),
    ],
)
def test_what_cannot_be_certified(change: dict, message: str) -> None:
    fields = {
        "public_key": ed25519_line(),
        "serial": 1,
        "key_id": "k",
        "principals": ["ubuntu"],
        "valid_after": 0,
        "valid_before": 10,
        **change,
    }
    with pytest.raises(certificates.CertificateError, match=message):
        certificates.sign(
            certificates.generate_ca_key("ed25519"), certificates.UserCertificate(**fields)
        )
