"""SSH certificates (keypairs 1.3): project CAs, issuance records, revoked keys.

Revision ID: keypairs_certificates
Revises: keypairs_0003
"""

import sqlalchemy as sa
from alembic import op

from keypairs_ext.db.models import BinaryName, BinaryUserId, Serial, Timestamp

revision = "keypairs_certificates"
down_revision = "keypairs_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ssh_certificate_authorities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", BinaryUserId, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("fingerprint_sha256", sa.String(64), nullable=False),
        sa.Column("sealed_private_key", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("retired_at", Timestamp, nullable=True),
        sa.Column("retired_by", sa.String(255), nullable=True),
        sa.UniqueConstraint("project_id", "generation", name="uniq_ssh_cas0project_id0generation"),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "ssh_certificates",
        sa.Column("serial", Serial, primary_key=True, autoincrement=True),
        sa.Column(
            "ca_id",
            sa.String(36),
            sa.ForeignKey("ssh_certificate_authorities.id"),
            nullable=False,
        ),
        sa.Column("project_id", BinaryUserId, nullable=False),
        sa.Column("requested_by", BinaryUserId, nullable=False),
        sa.Column("keypair_user_id", BinaryUserId, nullable=False),
        sa.Column("keypair_name", BinaryName, nullable=False),
        sa.Column("key_fingerprint_sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("principals", sa.JSON, nullable=False),
        sa.Column("extensions", sa.JSON, nullable=False),
        sa.Column("critical_options", sa.JSON, nullable=False),
        sa.Column("valid_after", Timestamp, nullable=False),
        sa.Column("valid_before", Timestamp, nullable=False),
        sa.Column("certificate", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.Column("revoked_by", sa.String(255), nullable=True),
        mysql_charset="utf8mb4",
    )
    op.create_index("ssh_certificates_project_id_idx", "ssh_certificates", ["project_id", "serial"])
    op.create_table(
        "ssh_revoked_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", BinaryUserId, nullable=False),
        sa.Column("fingerprint_sha256", sa.String(64), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.UniqueConstraint(
            "project_id", "fingerprint_sha256", name="uniq_ssh_revoked_keys0project_id0fingerprint"
        ),
        mysql_charset="utf8mb4",
    )
