"""Add the extended contract's facts to key_pairs and fill them for existing rows.

Revision ID: keypairs_0002
Revises: keypairs_0001
"""

import uuid

import sqlalchemy as sa
from alembic import op

from keypairs_ext import crypto
from keypairs_ext.exception import InvalidKeypair

revision = "keypairs_0002"
down_revision = "keypairs_0001"
branch_labels = None
depends_on = None

BATCH = 1000


def _facts(public_key: str, key_type: str) -> dict:
    """What the extended views show, from the stored key; empty when unreadable."""
    try:
        if key_type == "x509":
            parsed = crypto.parse_x509_certificate(public_key)
        else:
            # Keys stored under older, looser rules still get their facts.
            parsed = crypto.parse_openssh_public_key(public_key, min_rsa_bits=1024)
    except InvalidKeypair:
        return {}
    return {
        "fingerprint_sha256": parsed.fingerprint_sha256,
        "algorithm": parsed.algorithm,
        "bits": parsed.bits,
        "comment": parsed.comment,
    }


def upgrade() -> None:
    with op.batch_alter_table("key_pairs") as batch:
        batch.add_column(sa.Column("uuid", sa.String(36), nullable=True))
        batch.add_column(sa.Column("fingerprint_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("algorithm", sa.String(32), nullable=True))
        batch.add_column(sa.Column("bits", sa.Integer, nullable=True))
        batch.add_column(sa.Column("comment", sa.Text, nullable=True))

    key_pairs = sa.table(
        "key_pairs",
        sa.column("id", sa.Integer),
        sa.column("public_key", sa.Text),
        sa.column("type", sa.String),
        sa.column("uuid", sa.String),
        sa.column("fingerprint_sha256", sa.String),
        sa.column("algorithm", sa.String),
        sa.column("bits", sa.Integer),
        sa.column("comment", sa.Text),
    )
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(key_pairs.c.id, key_pairs.c.public_key, key_pairs.c.type)
            .where(key_pairs.c.id > last_id)
            .order_by(key_pairs.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            values = {"uuid": str(uuid.uuid4()), **_facts(row.public_key, row.type)}
            connection.execute(
                sa.update(key_pairs).where(key_pairs.c.id == row.id).values(**values)
            )
        last_id = rows[-1].id

    op.create_index("key_pairs_uuid_idx", "key_pairs", ["uuid"], unique=True)
