"""The KRL writer against ``ssh-keygen -k``: the same bytes for the same revocations."""

from __future__ import annotations

import base64
import hashlib
import random
import subprocess
from pathlib import Path

import pytest

from keypairs_ext.crypto import krl
from tests.conftest import need_program


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_program("ssh-keygen", "openssh-client")
    directory = tmp_path_factory.mktemp("krl-keys")
    for name, kind in (("ca", "ed25519"), ("ca2", "ecdsa"), ("u1", "ed25519"), ("u2", "ecdsa")):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(directory / name)], check=True
        )
    return directory


def _blob(path: Path) -> bytes:
    return base64.b64decode(path.read_text().split()[1])


def _keygen_krl(directory: Path, specs: list[tuple[str | None, str]]) -> bytes:
    """``ssh-keygen -k`` over spec files in order, each with its CA (or none)."""
    out = directory / "krl"
    out.unlink(missing_ok=True)
    for index, (ca, text) in enumerate(specs):
        spec = directory / f"spec{index}"
        spec.write_text(text)
        args = ["ssh-keygen", "-q", "-k", "-z", "7", "-f", str(out)]
        if index:
            args.append("-u")
        if ca:
            args += ["-s", str(directory / ca)]
        subprocess.run([*args, str(spec)], check=True, capture_output=True)
    return out.read_bytes()


def _generated_date(data: bytes) -> int:
    # magic (8), format version (4), krl version (8), then the date
    return int.from_bytes(data[20:28], "big")


@pytest.mark.parametrize("seed", range(6))
def test_same_bytes_as_ssh_keygen(keys: Path, seed: int) -> None:
    """Runs of serials that make lists, ranges and bitmaps; key IDs, keys, hashes."""
    rng = random.Random(seed)
    n = rng.choice([3, 12, 60])
    spread = rng.choice([n, 4 * n, 10_000, 2**40])
    serials = sorted({rng.randint(1, spread) for _ in range(n)})
    serials += list(range(spread + 5, spread + 5 + rng.randint(1, 80)))  # a long run
    serials2 = sorted({rng.randint(1, 50) for _ in range(5)})
    key_ids = sorted({f"user{rng.randint(0, 9)}@project" for _ in range(3)})
    first = "".join(f"serial: {s}\n" for s in serials) + "".join(f"id: {k}\n" for k in key_ids)
    second = "".join(f"serial: {s}\n" for s in serials2)
    plain = (keys / "u2.pub").read_text() + "sha256: " + (keys / "u1.pub").read_text()
    theirs = _keygen_krl(keys, [("ca.pub", first), ("ca2.pub", second), (None, plain)])
    mine = krl.build(
        version=7,
        generated_at=_generated_date(theirs),
        certificates=[
            krl.CertificateRevocations(_blob(keys / "ca.pub"), serials, key_ids),
            krl.CertificateRevocations(_blob(keys / "ca2.pub"), serials2),
        ],
        keys=[_blob(keys / "u2.pub")],
        sha256=[hashlib.sha256(_blob(keys / "u1.pub")).digest()],
    )
    assert mine == theirs


def test_ssh_keygen_reads_what_is_revoked(keys: Path, tmp_path: Path) -> None:
    data = krl.build(version=1, generated_at=0, keys=[_blob(keys / "u1.pub")])
    path = tmp_path / "krl"
    path.write_bytes(data)
    revoked = subprocess.run(["ssh-keygen", "-Q", "-f", str(path), str(keys / "u1.pub")])
    kept = subprocess.run(["ssh-keygen", "-Q", "-f", str(path), str(keys / "u2.pub")])
    assert (revoked.returncode, kept.returncode) == (1, 0)


def test_serial_ranges_merge_neighbours() -> None:
    assert krl.serial_ranges([5, 1, 2, 3, 7, 8, 3]) == [(1, 3), (5, 5), (7, 8)]


@pytest.mark.parametrize("serial", [0, 2**64])
def test_serials_out_of_range_are_refused(serial: int) -> None:
    with pytest.raises(ValueError, match="cannot be revoked"):
        krl.build(
            version=1, generated_at=0, certificates=[krl.CertificateRevocations(b"", [serial])]
        )


def test_hashes_have_their_size() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        krl.build(version=1, generated_at=0, sha256=[b"short"])
