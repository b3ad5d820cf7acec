"""MySQL/MariaDB: exact user ids and timestamps with microseconds.

The user_id columns took the database's default collation (usually
case-insensitive, e.g. utf8mb4_general_ci), so user "USER1" saw, deleted and
counted against the quota of "user1"'s keypairs; now they compare by bytes
(utf8mb4_bin), as on SQLite and PostgreSQL.  DATETIME without a fractional
precision dropped the microseconds that the views show.  Other backends have
nothing to change.  Going from a case-insensitive to a binary collation
cannot create duplicates, so existing rows need no cleaning.

Revision ID: keypairs_0003
Revises: keypairs_0002
"""

import sqlalchemy as sa
from alembic import op

from keypairs_ext.db.models import BinaryUserId, Timestamp

revision = "keypairs_0003"
down_revision = "keypairs_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    for table in ("key_pairs", "key_pair_usages"):
        op.alter_column(
            table,
            "user_id",
            type_=BinaryUserId,
            existing_type=sa.String(255),
            existing_nullable=False,
        )
    op.alter_column(
        "key_pairs",
        "created_at",
        type_=Timestamp,
        existing_type=sa.DateTime,
        existing_nullable=False,
    )
    op.alter_column(
        "key_pairs",
        "updated_at",
        type_=Timestamp,
        existing_type=sa.DateTime,
        existing_nullable=True,
    )
