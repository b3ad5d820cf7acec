"""Tables of the keypairs extension."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql, postgresql

# Names compare and sort by their exact bytes on every backend: "kp" and "KP"
# are two keypairs.  PostgreSQL and MySQL need a binary collation for that.
BinaryName = (
    sa.String(255)
    .with_variant(postgresql.VARCHAR(255, collation="C"), "postgresql")
    .with_variant(
        mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )
)

# User ids too: on MySQL/MariaDB a case-insensitive column made "USER1" see
# and delete "user1"'s keypairs and share its quota row.
BinaryUserId = sa.String(255).with_variant(
    mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

# MySQL's DATETIME drops the microseconds unless asked to keep them.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class Base(orm.DeclarativeBase):
    pass


class KeyPair(Base):
    __tablename__ = "key_pairs"
    __table_args__ = (
        # Also the index of the sorted per-user list (user_id, name).
        sa.UniqueConstraint("user_id", "name", name="uniq_key_pairs0user_id0name"),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId)
    name: orm.Mapped[str] = orm.mapped_column(BinaryName)
    fingerprint: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    public_key: orm.Mapped[str] = orm.mapped_column(sa.Text)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(8))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(Timestamp)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(Timestamp, nullable=True)
    # Facts of the extended contract (keypairs 1.x); the compatible API never shows them.
    uuid: orm.Mapped[str | None] = orm.mapped_column(sa.String(36), nullable=True)
    fingerprint_sha256: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    algorithm: orm.Mapped[str | None] = orm.mapped_column(sa.String(32), nullable=True)
    bits: orm.Mapped[int | None] = orm.mapped_column(sa.Integer, nullable=True)
    comment: orm.Mapped[str | None] = orm.mapped_column(sa.Text, nullable=True)


class KeyPairUsage(Base):
    """How many keypairs a user holds: the row the quota check locks."""

    __tablename__ = "key_pair_usages"

    user_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId, primary_key=True)
    in_use: orm.Mapped[int] = orm.mapped_column(sa.Integer)
