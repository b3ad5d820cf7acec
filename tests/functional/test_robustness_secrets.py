"""Nothing secret at rest (SPEC §3, §8): a private key is returned once, never kept.

Real ``keypairs-api`` processes at ``[DEFAULT] debug = true``, with SQL
statements and their parameters logged too (``[database] connection_debug =
100``), generate keys of every algorithm (one host per ``[keypairs]
generation_algorithm``), x509 bundles, and keys through every door (2.1, 2.2,
an admin for another user at 2.10, the legacy ``/v2`` and the seed's own
``/v1.1/.../os_keypairs/keypair``).  One host runs on PostgreSQL, dumped with
``pg_dump``.  Then every byte the deployment wrote -- SQLite database, WAL,
logs, state directory, the dump -- is searched for each private key in the
encodings a leak would take.  The logs must still name each created key by
its fingerprint.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from tests import conftest
from tests.functional import robustness_support as support
from tests.support import command, free_port, write_config

ALGORITHMS = ("rsa", "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521")
MARKERS = (b"PRIVATE KEY", b"openssh-key-v1", b"PuTTY-User-Key-File", b'"private_key"')


@dataclasses.dataclass
class Generated:
    host: str
    door: str
    private_key: str
    public_key: str
    fingerprint: str
    type: str


@dataclasses.dataclass
class Host:
    name: str
    service: support.Service
    log_file: Path
    database_url: str


def start_host(tmp: Path, name: str, database_url: str | None, algorithm: str) -> Host:
    state = tmp / f"state-{name}"
    port = free_port()
    database: dict[str, Any] = {"connection_debug": 100}
    if database_url:
        database["connection"] = database_url
    config = write_config(
        tmp / f"{name}.conf",
        {
            "DEFAULT": {"debug": "true", "state_path": state},
            "api": {"bind_port": port, "threads": 4},
            "metadata": {"enabled": "false"},
            "database": database,
            "keypairs": {"generation_algorithm": algorithm},
        },
    )
    log_file = tmp / "logs" / f"{name}.log"
    log_file.parent.mkdir(exist_ok=True)
    service = support.Service(
        [command("keypairs-api"), "--config-file", config, "--log-file", str(log_file)],
        port,
        tmp / f"{name}.out",
    )
    return Host(name, service, log_file, database_url or f"sqlite:///{state}/keypairs.sqlite")


def generate_everywhere(host: Host, with_x509: bool) -> list[Generated]:
    port = host.service.port
    made = []

    def create(door: str, path: str, body: dict, token: str, version: str | None, status: int):
        reply = support.call(port, "POST", path, body, token=token, version=version)
        assert reply.status == status, (door, reply.status, reply.text)
        keypair = reply.json["keypair"]
        made.append(
            Generated(
                host.name,
                door,
                keypair["private_key"],
                keypair["public_key"],
                keypair["fingerprint"],
                keypair.get("type", "ssh"),
            )
        )

    user = "user1:project1"
    create("2.1", "/v2.1/os-keypairs", {"keypair": {"name": "g21"}}, user, "2.1", 200)
    create(
        "2.2 ssh",
        "/v2.1/project1/os-keypairs",
        {"keypair": {"name": "g22", "type": "ssh"}},
        user,
        "2.2",
        201,
    )
    create(
        "2.10 admin for another user",
        "/v2.1/os-keypairs",
        {"keypair": {"name": "g210", "user_id": "user2"}},
        "admin:adminproject",
        "2.10",
        201,
    )
    create("legacy v2", "/v2/project1/os-keypairs", {"keypair": {"name": "gv2"}}, user, None, 200)
    create(
        "seed v1.1",
        "/v1.1/project1/os_keypairs/keypair",
        {"keypair": {"name": "gseed"}},
        user,
        None,
        200,
    )
    if with_x509:
        create(
            "2.2 x509",
            "/v2.1/os-keypairs",
            {"keypair": {"name": "gx509", "type": "x509"}},
            user,
            "2.2",
            201,
        )
    # A generated key that could not be stored (duplicate name) is not kept either.
    reply = support.call(
        port, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "g21"}}, token=user, version="2.2"
    )
    assert reply.status == 409, reply.text
    return made


# --- what a leak would look like --------------------------------------------------


def load_private(generated: Generated) -> Any:
    text = generated.private_key
    if generated.type == "x509":
        key, certificate, _ = pkcs12.load_key_and_certificates(base64.b64decode(text), b"")
        assert certificate is not None
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        assert pem.strip() == generated.public_key.strip()
        return key
    if "OPENSSH PRIVATE KEY" in text:
        key = serialization.load_ssh_private_key(text.encode(), password=None)
    else:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    # The private key really is the pair of the stored public key.
    assert generated.public_key.split()[:2] == public.decode().split()[:2]
    return key


def secret_scalar(key: Any) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        d = key.private_numbers().d
        return d.to_bytes((d.bit_length() + 7) // 8, "big")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        value = key.private_numbers().private_value
        return value.to_bytes((key.curve.key_size + 7) // 8, "big")
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.private_bytes_raw()


def needles(generated: Generated, public_corpus: bytes) -> list[bytes]:
    """Byte strings that appear only where this private key was written."""
    text = generated.private_key
    found: list[bytes] = []
    body = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("-----") and ":" not in line
    ]
    # Each base64 body line, and slices of a one-line blob (PKCS#12).
    for line in body:
        if len(line) <= 100:
            found.append(line.encode())
        else:
            found.extend(line[i : i + 48].encode() for i in range(0, len(line) - 48, 96))
    key = load_private(generated)
    scalar = secret_scalar(key)
    found += [scalar, scalar.hex().encode(), base64.b64encode(scalar)[:-4]]
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    encoded = base64.b64encode(pkcs8)
    found += [encoded[i : i + 48] for i in range(0, len(encoded) - 48, 64)]
    # Public material is stored on purpose; a needle must not be public.
    return [n for n in found if len(n) >= 24 and n not in public_corpus]


def every_file(root: Path) -> Iterator[Path]:
    for directory, _, files in os.walk(root):
        for name in files:
            yield Path(directory) / name


# --- the deployment ---------------------------------------------------------------


@pytest.fixture
def postgresql_database() -> Iterator[str | None]:
    """A fresh database on the shared server, when it and pg_dump are there."""
    if not conftest._reachable(conftest.POSTGRESQL_URL) or not shutil.which("pg_dump"):
        if conftest.REQUIRE_SERVERS:
            pytest.fail("PostgreSQL and pg_dump are needed (KEYPAIRS_REQUIRE_SERVERS=1)")
        yield None
        return
    url = conftest.create_database(conftest.POSTGRESQL_URL)
    yield url
    conftest.drop_database(conftest.POSTGRESQL_URL, url)


def pg_dump(url: str, target: Path) -> None:
    parsed = sa.engine.make_url(url)
    subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "-h", parsed.host or "127.0.0.1",
            "-p", str(parsed.port or 5432),
            "-U", parsed.username or "postgres",
            "-f", str(target),
            parsed.database,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert target.stat().st_size > 0


def test_no_private_key_is_kept_anywhere(tmp_path: Path, postgresql_database: str | None) -> None:
    hosts = [start_host(tmp_path, a, None, a) for a in ALGORITHMS]
    if postgresql_database:
        hosts.append(start_host(tmp_path, "postgresql", postgresql_database, "ed25519"))
    generated: list[Generated] = []
    try:
        for host in hosts:
            host.service.wait_ready()
        for host in hosts:
            with_x509 = host.name in ("rsa", "postgresql")
            generated += generate_everywhere(host, with_x509)
    finally:
        for host in hosts:
            host.service.stop()
    if postgresql_database:
        pg_dump(postgresql_database, tmp_path / "postgresql.dump.sql")

    # Every algorithm, every door, and x509 on both backends were exercised.
    kinds = {(g.host, g.type) for g in generated}
    assert {(a, "ssh") for a in ALGORITHMS} <= kinds and ("rsa", "x509") in kinds
    assert len({g.private_key for g in generated}) == len(generated)

    public_corpus = "\n".join(g.public_key for g in generated).encode()
    for g in generated:
        public_corpus += b"\n" + base64.b64decode(
            "".join(g.public_key.split("-----")[2].split())
            if g.type == "x509"
            else g.public_key.split()[1]
        )
    searches = [(g, needles(g, public_corpus)) for g in generated]
    assert all(len(n) >= 5 for _, n in searches)

    files = list(every_file(tmp_path))
    names = {p.name for p in files}
    assert {"keypairs.sqlite", "rsa.log", "ed25519.log"} <= names, names
    if postgresql_database:
        assert "postgresql.dump.sql" in names
    leaks = []
    for path in files:
        data = path.read_bytes()
        for marker in MARKERS:
            if marker in data:
                leaks.append((str(path), marker))
        for g, keys in searches:
            for needle in keys:
                if needle in data:
                    leaks.append((str(path), g.host, g.door, needle[:24]))
    assert leaks == []

    # The stores did keep what they should: each public key, by fingerprint.
    for host in hosts:
        log = host.log_file.read_text()
        assert "DEBUG" in log  # debug logging was really on
        for g in generated:
            if g.host == host.name:
                assert g.fingerprint in log, (host.name, g.door)
                assert f"{g.type} {g.fingerprint}" in log
    rows = 0
    for host in hosts:
        engine = sa.create_engine(host.database_url, poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            result = connection.execute(sa.text("SELECT fingerprint, public_key FROM key_pairs"))
            stored = {fingerprint: public_key for fingerprint, public_key in result}
        engine.dispose()
        mine = {g.fingerprint: g.public_key for g in generated if g.host == host.name}
        assert stored == mine
        rows += len(stored)
    assert rows == len(generated)
