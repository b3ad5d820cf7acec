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
        sa.Index("key_pairs_expires_at_idx", "expires_at"),
        # One shared key of a name per project (NULLs, private keys, never clash);
        # also the index of a project's shared keys by name.
        sa.UniqueConstraint(
            "shared_project_id", "name", name="uniq_key_pairs0shared_project_id0name"
        ),
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
    # The lifecycle (keypairs 1.1).  labels: ",k=v,k2=v2," (see db/lifecycle.py).
    description: orm.Mapped[str | None] = orm.mapped_column(sa.String(255), nullable=True)
    labels: orm.Mapped[str | None] = orm.mapped_column(sa.Text, nullable=True)
    expires_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(Timestamp, nullable=True)
    # Team keys (keypairs 1.2): the owner's project while the key is shared
    # with it (visibility "project"); NULL while private.
    shared_project_id: orm.Mapped[str | None] = orm.mapped_column(BinaryUserId, nullable=True)


class KeyPairUsage(Base):
    """How many keypairs a user holds: the row the quota check locks."""

    __tablename__ = "key_pair_usages"

    user_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId, primary_key=True)
    in_use: orm.Mapped[int] = orm.mapped_column(sa.Integer)


class KeyPairServer(Base):
    """A server booted (or rebuilt) with a keypair, while it exists."""

    __tablename__ = "key_pair_servers"
    __table_args__ = (sa.Index("key_pair_servers_server_id_idx", "server_id"),)

    keypair_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    server_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    server_name: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(Timestamp)


# --- SSH certificates (keypairs 1.3) ------------------------------------------------

# Serials are the issuance rows' ids: unique per CA (and per cloud) by the
# primary key, and never 0, which OpenSSH reads as "no serial".
Serial = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class CertificateAuthority(Base):
    """A project's CA.  The private key is sealed (see crypto.sealing), never clear."""

    __tablename__ = "ssh_certificate_authorities"
    __table_args__ = (
        # The first CA of a project is created on first use: two first uses at
        # once make the same generation, and the database keeps one.
        sa.UniqueConstraint("project_id", "generation", name="uniq_ssh_cas0project_id0generation"),
    )

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId)
    generation: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    algorithm: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    public_key: orm.Mapped[str] = orm.mapped_column(sa.Text)
    fingerprint_sha256: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    sealed_private_key: orm.Mapped[str] = orm.mapped_column(sa.Text)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(Timestamp)
    created_by: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    retired_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(Timestamp, nullable=True)
    retired_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(255), nullable=True)


class IssuedCertificate(Base):
    """One issuance: what was signed, for whom, by whom.  Nothing secret."""

    __tablename__ = "ssh_certificates"
    __table_args__ = (sa.Index("ssh_certificates_project_id_idx", "project_id", "serial"),)

    serial: orm.Mapped[int] = orm.mapped_column(Serial, primary_key=True, autoincrement=True)
    ca_id: orm.Mapped[str] = orm.mapped_column(
        sa.String(36), sa.ForeignKey("ssh_certificate_authorities.id")
    )
    project_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId)
    requested_by: orm.Mapped[str] = orm.mapped_column(BinaryUserId)
    keypair_user_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId)
    keypair_name: orm.Mapped[str] = orm.mapped_column(BinaryName)
    key_fingerprint_sha256: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    key_id: orm.Mapped[str] = orm.mapped_column(sa.Text)
    principals: orm.Mapped[list] = orm.mapped_column(sa.JSON)
    extensions: orm.Mapped[list] = orm.mapped_column(sa.JSON)
    critical_options: orm.Mapped[dict] = orm.mapped_column(sa.JSON)
    valid_after: orm.Mapped[datetime.datetime] = orm.mapped_column(Timestamp)
    valid_before: orm.Mapped[datetime.datetime] = orm.mapped_column(Timestamp)
    certificate: orm.Mapped[str | None] = orm.mapped_column(sa.Text, nullable=True)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(Timestamp)
    revoked_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(Timestamp, nullable=True)
    revoked_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(255), nullable=True)


class RevokedKey(Base):
    """A public key revoked in a project's KRL, with every certificate of it."""

    __tablename__ = "ssh_revoked_keys"
    __table_args__ = (
        sa.UniqueConstraint(
            "project_id", "fingerprint_sha256", name="uniq_ssh_revoked_keys0project_id0fingerprint"
        ),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    project_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId)
    fingerprint_sha256: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    public_key: orm.Mapped[str] = orm.mapped_column(sa.Text)
    reason: orm.Mapped[str | None] = orm.mapped_column(sa.String(255), nullable=True)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(Timestamp)
    created_by: orm.Mapped[str] = orm.mapped_column(sa.String(255))


class KeyPairProjectUsage(Base):
    """How many keypairs are shared with a project: the row its quota locks."""

    __tablename__ = "key_pair_project_usages"

    project_id: orm.Mapped[str] = orm.mapped_column(BinaryUserId, primary_key=True)
    in_use: orm.Mapped[int] = orm.mapped_column(sa.Integer)
