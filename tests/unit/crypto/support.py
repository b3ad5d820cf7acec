"""What the crypto tests share: the ssh-keygen keys they are checked against,
and the tools' views of a key."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from tests.conftest import run_program as run
from tests.unit.crypto.malformed_keys import b64, ssh_string

PASSPHRASE = "correct horse \u00e9 battery"

# name -> ssh-keygen arguments, expected algorithm, expected bits
KEYGEN_KEYS = {
    "rsa-2048": (["-t", "rsa", "-b", "2048"], "rsa", 2048),
    "rsa-3072": (["-t", "rsa", "-b", "3072"], "rsa", 3072),
    "rsa-4096": (["-t", "rsa", "-b", "4096"], "rsa", 4096),
    "ed25519": (["-t", "ed25519"], "ed25519", 256),
    "ecdsa-256": (["-t", "ecdsa", "-b", "256"], "ecdsa-p256", 256),
    "ecdsa-384": (["-t", "ecdsa", "-b", "384"], "ecdsa-p384", 384),
    "ecdsa-521": (["-t", "ecdsa", "-b", "521"], "ecdsa-p521", 521),
}


def fails(*args: str | Path) -> bool:
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode != 0


def key_part(line: str) -> str:
    """The "type base64" part of an OpenSSH public line."""
    return " ".join(line.split()[:2])


def keygen_fingerprints(path: Path) -> tuple[int, str, str]:
    """(bits, md5 without prefix, sha256) as ssh-keygen -l prints them."""
    md5 = run("ssh-keygen", "-l", "-E", "md5", "-f", path).split()
    sha256 = run("ssh-keygen", "-l", "-E", "sha256", "-f", path).split()
    assert md5[1].startswith("MD5:")
    return int(md5[0]), md5[1].removeprefix("MD5:"), sha256[1]


def sk_line(keygen_dir: Path, name: str) -> str:
    """A FIDO public line built from a real key plus an application string."""
    label, encoded = (keygen_dir / f"{name}.pub").read_text().split()[:2]
    blob = base64.b64decode(encoded)
    fields = blob[4 + len(label) :]  # the key fields after the type string
    sk_label = {
        "ssh-ed25519": "sk-ssh-ed25519@openssh.com",
        "ecdsa-sha2-nistp256": "sk-ecdsa-sha2-nistp256@openssh.com",
    }[label]
    sk_blob = ssh_string(sk_label.encode()) + fields + ssh_string(b"ssh:")
    return f"{sk_label} {b64(sk_blob)} fido key"
