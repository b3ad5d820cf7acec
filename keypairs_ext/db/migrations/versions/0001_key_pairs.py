"""Create key_pairs and key_pair_usages.

Revision ID: keypairs_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from keypairs_ext.db.models import BinaryName

revision = "keypairs_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_pairs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("name", BinaryName, nullable=False),
        sa.Column("fingerprint", sa.String(255), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("user_id", "name", name="uniq_key_pairs0user_id0name"),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "key_pair_usages",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("in_use", sa.Integer, nullable=False),
        mysql_charset="utf8mb4",
    )
