"""Team keys (keypairs 1.2): a keypair shared with its owner's project.

``key_pairs.shared_project_id`` is the project a key is shared with (NULL
while private), unique with the name, so a project has one shared key of a
name; ``key_pair_project_usages`` counts a project's shared keys for the
``[quota] shared_key_pairs`` check, as ``key_pair_usages`` counts a user's.

Revision ID: keypairs_sharing
Revises: keypairs_lifecycle
"""

import sqlalchemy as sa
from alembic import op

from keypairs_ext.db.models import BinaryUserId

revision = "keypairs_sharing"
down_revision = "keypairs_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("key_pairs") as batch:
        batch.add_column(sa.Column("shared_project_id", BinaryUserId, nullable=True))
        batch.create_unique_constraint(
            "uniq_key_pairs0shared_project_id0name", ["shared_project_id", "name"]
        )
    op.create_table(
        "key_pair_project_usages",
        sa.Column("project_id", BinaryUserId, primary_key=True),
        sa.Column("in_use", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_pair_project_usages")
    with op.batch_alter_table("key_pairs") as batch:
        batch.drop_constraint("uniq_key_pairs0shared_project_id0name", type_="unique")
        batch.drop_column("shared_project_id")
