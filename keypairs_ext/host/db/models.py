"""Tables of the reference host: servers (instances)."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql

# Ids compare by their exact bytes on every backend; MySQL's default
# collation would let project "PROJ" see project "proj"'s servers.
ExactId = sa.String(255).with_variant(
    mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


class Base(orm.DeclarativeBase):
    pass


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (sa.Index("instances_project_id_created_at_idx", "project_id", "created_at"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(ExactId)
    user_id: orm.Mapped[str] = orm.mapped_column(ExactId)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    image_ref: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    flavor_ref: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    #: server metadata key/value pairs ("metadata" in the server body)
    server_metadata: orm.Mapped[dict] = orm.mapped_column("metadata", sa.JSON)
    #: each enabled extension's contribution, by alias
    extension_data: orm.Mapped[dict] = orm.mapped_column(sa.JSON)
    user_data: orm.Mapped[str | None] = orm.mapped_column(sa.Text, nullable=True)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime, nullable=True)
