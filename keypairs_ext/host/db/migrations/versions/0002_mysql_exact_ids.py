"""MySQL/MariaDB: project and user ids of instances compare by bytes.

Revision ID: host_0002
Revises: host_0001
"""

import sqlalchemy as sa
from alembic import op

from keypairs_ext.host.db.models import ExactId

revision = "host_0002"
down_revision = "host_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    for column in ("project_id", "user_id"):
        op.alter_column(
            "instances",
            column,
            type_=ExactId,
            existing_type=sa.String(255),
            existing_nullable=False,
        )
