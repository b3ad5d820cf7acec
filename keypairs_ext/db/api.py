"""Keypair queries.  Uniqueness and quota are decided by the database.

A create is one transaction: make sure the user's usage row exists, then
raise ``in_use`` only while it is below the limit (a conditional UPDATE,
which row-locks on PostgreSQL and MySQL and holds SQLite's write lock), then
insert the keypair under the (user_id, name) unique constraint.  Concurrent
creates therefore can neither exceed the quota nor share a name, and a
failure anywhere leaves nothing behind.
"""

from __future__ import annotations

import builtins
import collections
import datetime
from typing import Any, cast

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy.dialects import postgresql, sqlite

from keypairs_ext import exception
from keypairs_ext.db.models import KeyPair, KeyPairUsage
from keypairs_ext.host.contract import storable

UNLIMITED = -1


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


# Statements are built once: building them per request cost more than
# running them.  Work goes through enginefacade *connections* (Core), not ORM
# sessions: nothing here needs identity maps or unit-of-work flushes.
_KP = cast(sa.Table, KeyPair.__table__)
_USAGE = cast(sa.Table, KeyPairUsage.__table__)
_BY_NAME = (_KP.c.user_id == sa.bindparam("user_id")) & (_KP.c.name == sa.bindparam("name"))
_GET = sa.select(_KP).where(_BY_NAME)
# The list view needs these four; leaving out the timestamps spares parsing
# them for every row of a long list.
_LISTED = sa.select(_KP.c.name, _KP.c.public_key, _KP.c.fingerprint, _KP.c.type).where(
    _KP.c.user_id == sa.bindparam("user_id")
)
# Plain named tuples: reading a field of one is several times cheaper than of
# a SQLAlchemy Row, which shows on a list of a thousand.
ListedKeypair = collections.namedtuple("ListedKeypair", "name public_key fingerprint type")
_Listed = list[ListedKeypair]
_AFTER_MARKER = _KP.c.name > sa.bindparam("marker")
_LIST = {
    (False, False): _LISTED.order_by(_KP.c.name),
    (False, True): _LISTED.order_by(_KP.c.name).limit(sa.bindparam("limit")),
    (True, False): _LISTED.where(_AFTER_MARKER).order_by(_KP.c.name),
    (True, True): _LISTED.where(_AFTER_MARKER).order_by(_KP.c.name).limit(sa.bindparam("limit")),
}
_MARKER_EXISTS = sa.select(_KP.c.id).where(_BY_NAME)
_INSERT = sa.insert(_KP)
_DELETE = sa.delete(_KP).where(_BY_NAME)
# (bind names differ from column names: UPDATE reserves those for SET)
_USER = _USAGE.c.user_id == sa.bindparam("b_user_id")
_TAKE = sa.update(_USAGE).where(_USER).values(in_use=_USAGE.c.in_use + 1)
_TAKE_BELOW = _TAKE.where(_USAGE.c.in_use < sa.bindparam("b_limit"))
_RELEASE = sa.update(_USAGE).where(_USER).values(in_use=_USAGE.c.in_use - 1)


def _usage_row_statement(dialect: str) -> Any:
    values = {"user_id": sa.bindparam("b_user_id"), "in_use": 0}
    if dialect == "postgresql":
        return postgresql.insert(_USAGE).values(values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(_USAGE).values(values).on_conflict_do_nothing()
    # MySQL / MariaDB
    return sa.insert(_USAGE).values(values).prefix_with("IGNORE")


_ENSURE_USAGE: dict[str, Any] = {}


def _ensure_usage_row(connection: Any, user_id: str) -> None:
    dialect = connection.dialect.name
    statement = _ENSURE_USAGE.get(dialect)
    if statement is None:
        statement = _ENSURE_USAGE[dialect] = _usage_row_statement(dialect)
    connection.execute(statement, {"b_user_id": user_id})


def _take_quota(connection: Any, user_id: str, limit: int) -> None:
    _ensure_usage_row(connection, user_id)
    if limit != UNLIMITED:
        result = connection.execute(_TAKE_BELOW, {"b_user_id": user_id, "b_limit": limit})
    else:
        result = connection.execute(_TAKE, {"b_user_id": user_id})
    if result.rowcount != 1:
        raise exception.KeypairLimitExceeded()


class KeypairStore:
    """Keypair records.

    ``get`` returns a row with every column; ``list`` rows carry name,
    public_key, fingerprint and type (what the list view shows); ``create``
    returns the new KeyPair.  All are read by attribute.
    """

    def __init__(self, database: Any) -> None:
        self._db = database

    def create(self, context: Any, values: dict[str, Any], limit: int) -> KeyPair:
        row = dict(values, created_at=_now(), updated_at=None)
        with self._db.writer.connection.using(context) as connection:
            _take_quota(connection, row["user_id"], limit)
            try:
                result = connection.execute(_INSERT, row)
            except db_exc.DBDuplicateEntry as exc:
                raise exception.KeypairExists(row["name"]) from exc
            (row["id"],) = result.inserted_primary_key
        return KeyPair(**row)

    def get(self, context: Any, user_id: str, name: str) -> Any:
        if not (storable(user_id) and storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        with self._db.reader.connection.using(context) as connection:
            keypair = connection.execute(_GET, {"user_id": user_id, "name": name}).first()
        if keypair is None:
            raise exception.KeypairNotFound(name, user_id)
        return keypair

    def list(
        self,
        context: Any,
        user_id: str,
        limit: int | None = None,
        marker: str | None = None,
    ) -> _Listed:
        if marker is not None and not storable(marker):
            raise exception.Invalid(f"Marker {marker} could not be found.")
        if not storable(user_id):
            return []
        params: dict[str, Any] = {"user_id": user_id}
        if limit is not None:
            params["limit"] = limit
        with self._db.reader.connection.using(context) as connection:
            if marker is not None:
                found = connection.execute(_MARKER_EXISTS, {"user_id": user_id, "name": marker})
                if found.first() is None:
                    raise exception.Invalid(f"Marker {marker} could not be found.")
                params["marker"] = marker
            statement = _LIST[(marker is not None, limit is not None)]
            return list(map(ListedKeypair._make, connection.execute(statement, params).all()))

    def delete(self, context: Any, user_id: str, name: str) -> None:
        if not (storable(user_id) and storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        with self._db.writer.connection.using(context) as connection:
            # The usage row first, as create locks it: the same lock order in
            # both, so a create and a delete of one user cannot deadlock.  A
            # delete that finds nothing rolls the release back.
            if connection.execute(_RELEASE, {"b_user_id": user_id}).rowcount != 1:
                # No usage row yet, so no committed keypair either: answering
                # "not found" now orders this delete before any create in
                # flight, instead of deleting that create's row unaccounted.
                raise exception.KeypairNotFound(name, user_id)
            deleted = connection.execute(_DELETE, {"user_id": user_id, "name": name}).rowcount
            if deleted != 1:
                raise exception.KeypairNotFound(name, user_id)

    def list_filtered(
        self,
        context: Any,
        user_id: str,
        filters: dict[str, str],
        limit: int | None = None,
        marker: str | None = None,
    ) -> builtins.list[Any]:
        """Full rows of the extended list: fingerprint (either form), algorithm,
        type and name prefix, paged like ``list``."""
        values = [user_id, marker or "", *filters.values()]
        if not all(storable(v) for v in values):
            if marker is not None and not storable(marker):
                raise exception.Invalid(f"Marker {marker} could not be found.")
            return []
        query = sa.select(_KP).where(_KP.c.user_id == user_id)
        if "fingerprint" in filters:
            value = filters["fingerprint"]
            column = _KP.c.fingerprint_sha256 if value.startswith("SHA256:") else _KP.c.fingerprint
            query = query.where(column == value)
        if "algorithm" in filters:
            query = query.where(_KP.c.algorithm == filters["algorithm"])
        if "type" in filters:
            query = query.where(_KP.c.type == filters["type"])
        if filters.get("name_prefix"):
            # A range on the binary-ordered name: index-friendly, case-exact.
            prefix = filters["name_prefix"]
            query = query.where(_KP.c.name >= prefix, _KP.c.name < prefix + "\U0010ffff")
        with self._db.reader.connection.using(context) as connection:
            if marker is not None:
                found = connection.execute(_MARKER_EXISTS, {"user_id": user_id, "name": marker})
                if found.first() is None:
                    raise exception.Invalid(f"Marker {marker} could not be found.")
                query = query.where(_KP.c.name > marker)
            query = query.order_by(_KP.c.name)
            if limit is not None:
                query = query.limit(limit)
            return list(connection.execute(query).all())
