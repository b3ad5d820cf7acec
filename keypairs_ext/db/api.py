"""Keypair queries.  Uniqueness and quota are decided by the database.

A create is one transaction: make sure the user's usage row exists, then
raise ``in_use`` only while it is below the limit (a conditional UPDATE,
which row-locks on PostgreSQL and MySQL and holds SQLite's write lock), then
insert the keypair under the (user_id, name) unique constraint.  Concurrent
creates therefore can neither exceed the quota nor share a name, and a
failure anywhere leaves nothing behind.
"""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy.dialects import postgresql, sqlite

from keypairs_ext import exception
from keypairs_ext.db.models import KeyPair, KeyPairUsage

UNLIMITED = -1


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _storable(text: str) -> bool:
    """Whether every backend can hold ``text``: no NUL, no lone surrogate.

    PostgreSQL refuses NUL in text and no driver encodes a lone surrogate; a
    name or user id that cannot be stored cannot name a stored keypair, so a
    lookup with one finds nothing instead of failing in the driver.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ensure_usage_row(session: Any, user_id: str) -> None:
    dialect = session.get_bind().dialect.name
    values = {"user_id": user_id, "in_use": 0}
    if dialect == "postgresql":
        stmt = postgresql.insert(KeyPairUsage).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(KeyPairUsage).values(values).on_conflict_do_nothing()
    else:  # MySQL / MariaDB
        stmt = sa.insert(KeyPairUsage).values(values).prefix_with("IGNORE")
    session.execute(stmt)


def _take_quota(session: Any, user_id: str, limit: int) -> None:
    _ensure_usage_row(session, user_id)
    stmt = (
        sa.update(KeyPairUsage)
        .where(KeyPairUsage.user_id == user_id)
        .values(in_use=KeyPairUsage.in_use + 1)
    )
    if limit != UNLIMITED:
        stmt = stmt.where(KeyPairUsage.in_use < limit)
    if session.execute(stmt).rowcount != 1:
        raise exception.KeypairLimitExceeded()


class KeypairStore:
    def __init__(self, database: Any) -> None:
        self._db = database

    def create(self, context: Any, values: dict[str, Any], limit: int) -> KeyPair:
        keypair = KeyPair(created_at=_now(), updated_at=None, **values)
        with self._db.writer.using(context) as session:
            _take_quota(session, keypair.user_id, limit)
            session.add(keypair)
            try:
                session.flush()
            except db_exc.DBDuplicateEntry as exc:
                raise exception.KeypairExists(keypair.name) from exc
        return keypair

    def get(self, context: Any, user_id: str, name: str) -> KeyPair:
        if not (_storable(user_id) and _storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        query = sa.select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
        with self._db.reader.using(context) as session:
            keypair = session.scalars(query).first()
        if keypair is None:
            raise exception.KeypairNotFound(name, user_id)
        return keypair

    def list(
        self,
        context: Any,
        user_id: str,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[KeyPair]:
        if marker is not None and not _storable(marker):
            raise exception.Invalid(f"Marker {marker} could not be found.")
        if not _storable(user_id):
            return []
        query = sa.select(KeyPair).where(KeyPair.user_id == user_id).order_by(KeyPair.name)
        with self._db.reader.using(context) as session:
            if marker is not None:
                exists = sa.select(KeyPair.id).where(
                    KeyPair.user_id == user_id, KeyPair.name == marker
                )
                if session.execute(exists).first() is None:
                    raise exception.Invalid(f"Marker {marker} could not be found.")
                query = query.where(KeyPair.name > marker)
            if limit is not None:
                query = query.limit(limit)
            return list(session.scalars(query))

    def delete(self, context: Any, user_id: str, name: str) -> None:
        if not (_storable(user_id) and _storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        with self._db.writer.using(context) as session:
            deleted = session.execute(
                sa.delete(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
            ).rowcount
            if deleted != 1:
                raise exception.KeypairNotFound(name, user_id)
            session.execute(
                sa.update(KeyPairUsage)
                .where(KeyPairUsage.user_id == user_id)
                .values(in_use=KeyPairUsage.in_use - 1)
            )
