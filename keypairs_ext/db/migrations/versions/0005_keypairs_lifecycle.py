"""The lifecycle of a keypair (keypairs 1.1): description, labels, expiry, usage.

``labels`` holds the canonical selector text ``,key=value,key=value,``
(sorted, with a comma at each end), so that one ``LIKE`` per wanted pair
filters a user's index range on every backend.  ``key_pair_servers`` records
which servers were booted (or rebuilt) with a keypair, by the keypair's UUID.

Revision ID: keypairs_lifecycle
Revises: keypairs_certificates
"""

import sqlalchemy as sa
from alembic import op

from keypairs_ext.db.models import Timestamp

revision = "keypairs_lifecycle"
down_revision = "keypairs_certificates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("key_pairs") as batch:
        batch.add_column(sa.Column("description", sa.String(255), nullable=True))
        batch.add_column(sa.Column("labels", sa.Text, nullable=True))
        batch.add_column(sa.Column("expires_at", Timestamp, nullable=True))
    # The operators' sweep reads expired keys across users in expiry order.
    op.create_index("key_pairs_expires_at_idx", "key_pairs", ["expires_at"])
    op.create_table(
        "key_pair_servers",
        sa.Column("keypair_uuid", sa.String(36), primary_key=True),
        sa.Column("server_id", sa.String(36), primary_key=True),
        sa.Column("server_name", sa.String(255), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("key_pair_servers_server_id_idx", "key_pair_servers", ["server_id"])
