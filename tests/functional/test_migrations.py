"""Migrations from an empty database, and the backfill of the extended facts."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from keypairs_ext import crypto
from keypairs_ext.extension import Keypairs
from keypairs_ext.host.db import migrate


def _openssh(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def test_existing_rows_get_the_extended_facts(empty_database):
    engine = sa.create_engine(empty_database)
    table = migrate.version_table_for(Keypairs.alias)
    migrate.upgrade(engine, Keypairs.migrations(), table, target="keypairs_0001")
    ed = _openssh(ed25519.Ed25519PrivateKey.generate()) + " me@laptop\n"
    weak_rsa = _openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    cert = crypto.generate_x509_keypair("user-a").public_text
    rows = [
        ("ed", ed, "ssh"),
        ("weak", weak_rsa, "ssh"),
        ("cert", cert, "x509"),
        ("junk", "ssh-ed25519 not-base64", "ssh"),
    ]
    now = datetime.datetime(2020, 1, 1)
    with engine.begin() as connection:
        for name, public_key, key_type in rows:
            connection.execute(
                sa.text(
                    "INSERT INTO key_pairs (user_id, name, fingerprint, public_key, type, "
                    "created_at) VALUES ('u', :name, 'f', :public_key, :type, :now)"
                ),
                {"name": name, "public_key": public_key, "type": key_type, "now": now},
            )

    migrate.upgrade(engine, Keypairs.migrations(), table)

    with engine.connect() as connection:
        found = {
            r.name: r
            for r in connection.execute(
                sa.text(
                    "SELECT name, uuid, fingerprint_sha256, algorithm, bits, comment FROM key_pairs"
                )
            )
        }
    assert len({r.uuid for r in found.values()}) == 4
    expected_ed = crypto.parse_openssh_public_key(ed)
    assert (
        found["ed"].fingerprint_sha256,
        found["ed"].algorithm,
        found["ed"].bits,
        found["ed"].comment,
    ) == (expected_ed.fingerprint_sha256, "ed25519", 256, "me@laptop")
    assert (found["weak"].algorithm, found["weak"].bits) == ("rsa", 1024)
    assert (found["cert"].algorithm, found["cert"].bits) == ("rsa", 2048)
    assert (found["junk"].algorithm, found["junk"].fingerprint_sha256) == (None, None)
    engine.dispose()
