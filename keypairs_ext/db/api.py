"""Keypair queries.  Uniqueness and quota are decided by the database.

A create is atomic: it raises the user's ``in_use`` only while it is below
the limit (under the usage row's exclusive lock: a conditional upsert on
PostgreSQL and SQLite, a locking upsert and a conditional UPDATE on
MySQL), and inserts the keypair under the (user_id, name) unique
constraint.  Concurrent creates therefore can neither exceed the quota nor
share a name, and a failure anywhere leaves nothing behind.

Every write (create, delete) takes one path: one transaction on the host's
autocommit engine when it offers one (``BEGIN``/``COMMIT`` sent as
statements), else on the enginefacade writer, run through SQLAlchemy Core
so that oslo.db names each error (a duplicate, a deadlock, a lost
connection), under the store's one retry policy
(:func:`keypairs_ext.db.connections.retried`).  Only the statements differ
by dialect: on PostgreSQL the quota and the row are one statement.

Reads go through the autocommit engine too (no ``BEGIN``/``ROLLBACK`` or
ping around a single ``SELECT``), else through the enginefacade reader, and
run on the driver's cursor of that connection
(:class:`keypairs_ext.db.connections.DriverReads`).
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import datetime
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy.dialects import mysql, postgresql, sqlite

from keypairs_ext import exception
from keypairs_ext.db.connections import DriverReads, retried, transaction
from keypairs_ext.db.lifecycle import LifecycleQueries, lifecycle_conditions
from keypairs_ext.db.models import KeyPair, KeyPairProjectUsage, KeyPairUsage
from keypairs_ext.host.contract import storable

UNLIMITED = -1


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


# Statements are built once: building them per request cost more than
# running them.  Work goes through SQLAlchemy *connections* (Core), not ORM
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
# Columns a create may leave out (facts of the extended contract).
_UNSET_FACTS = dict.fromkeys(
    (
        "uuid",
        "fingerprint_sha256",
        "algorithm",
        "bits",
        "comment",
        "description",
        "labels",
        "expires_at",
        "shared_project_id",
    )
)


class StoredKeypair(NamedTuple):
    """What create returns: every column, like the row ``get`` reads."""

    id: int
    user_id: str
    name: str
    fingerprint: str
    public_key: str
    type: str
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    uuid: str | None
    fingerprint_sha256: str | None
    algorithm: str | None
    bits: int | None
    comment: str | None
    description: str | None
    labels: str | None
    expires_at: datetime.datetime | None
    shared_project_id: str | None


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
_IN_USE = sa.select(_USAGE.c.in_use).where(_USAGE.c.user_id == sa.bindparam("user_id"))
# Team keys: the project a key is shared with, read under the row's lock
# before it changes (SQLite locks the whole database at BEGIN IMMEDIATE).
_SHARED_WITH = sa.select(_KP.c.shared_project_id).where(_BY_NAME).with_for_update()
_SET_SHARED = (
    sa.update(_KP)
    .where((_KP.c.user_id == sa.bindparam("b_user_id")) & (_KP.c.name == sa.bindparam("b_name")))
    .values(shared_project_id=sa.bindparam("b_project_id"), updated_at=sa.bindparam("b_now"))
)
_PROJECT_USAGE = cast(sa.Table, KeyPairProjectUsage.__table__)
_PROJECT = _PROJECT_USAGE.c.project_id == sa.bindparam("b_project_id")
_TAKE_PROJECT = sa.update(_PROJECT_USAGE).where(_PROJECT).values(in_use=_PROJECT_USAGE.c.in_use + 1)
_TAKE_PROJECT_BELOW = _TAKE_PROJECT.where(_PROJECT_USAGE.c.in_use < sa.bindparam("b_limit"))
_RELEASE_PROJECT = (
    sa.update(_PROJECT_USAGE).where(_PROJECT).values(in_use=_PROJECT_USAGE.c.in_use - 1)
)
_BY_SHARED_NAME = (_KP.c.shared_project_id == sa.bindparam("project_id")) & (
    _KP.c.name == sa.bindparam("name")
)
_GET_SHARED = sa.select(_KP).where(_BY_SHARED_NAME)


# Quota in one statement: create the usage row at 1, or raise it by one
# while it is below the limit (b_limit < 0: no limit).  No row back: full.
def _upsert_usage(insert: Any, table: sa.Table, key: str) -> Any:
    statement = insert(table).values({key: sa.bindparam(f"b_{key}"), "in_use": 1})
    # The row count says whether the quota was taken; SQLAlchemy keeps an
    # INSERT's only when asked (psycopg 3 reports -1 once the cursor closes).
    return statement.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={"in_use": table.c.in_use + 1},
        where=(sa.bindparam("b_limit") < 0) | (table.c.in_use < sa.bindparam("b_limit")),
    ).execution_options(preserve_rowcount=True)


_TAKE_UPSERT = {
    "postgresql": _upsert_usage(postgresql.insert, _USAGE, "user_id"),
    "sqlite": _upsert_usage(sqlite.insert, _USAGE, "user_id"),
}


_TAKE_PROJECT_UPSERT = {
    "postgresql": _upsert_usage(postgresql.insert, _PROJECT_USAGE, "project_id"),
    "sqlite": _upsert_usage(sqlite.insert, _PROJECT_USAGE, "project_id"),
}
_LOCK_PROJECT_USAGE = (
    mysql.insert(_PROJECT_USAGE)
    .values(project_id=sa.bindparam("b_project_id"), in_use=0)
    .on_duplicate_key_update(in_use=_PROJECT_USAGE.c.in_use)
)
# PostgreSQL: the quota and the row in one statement.  The INSERT selects
# from the quota's RETURNING, so it inserts nothing when the quota is full.
_CREATED_COLUMNS = [c for c in _KP.columns if c.name != "id"]
_TAKEN = _TAKE_UPSERT["postgresql"].returning(_USAGE.c.user_id).cte("taken")
_CREATE_WITH_QUOTA = (
    sa.insert(_KP)
    .from_select(
        [c.name for c in _CREATED_COLUMNS],
        sa.select(*[sa.bindparam(c.name, type_=c.type) for c in _CREATED_COLUMNS]).select_from(
            _TAKEN
        ),
    )
    .add_cte(_TAKEN)
    .returning(_KP.c.id)
)
# MySQL / MariaDB: lock the usage row (creating it at 0 if need be), then a
# conditional UPDATE.  ``INSERT ... ON DUPLICATE KEY UPDATE`` takes the row's
# exclusive lock at once, where ``INSERT IGNORE`` took a shared one: two
# creates holding it shared then both waited for the exclusive lock the
# UPDATE needs, and InnoDB killed one (error 1213).
_LOCK_USAGE = (
    mysql.insert(_USAGE)
    .values(user_id=sa.bindparam("b_user_id"), in_use=0)
    .on_duplicate_key_update(in_use=_USAGE.c.in_use)
)

# ``execute(statement, params)``: a SQLAlchemy connection's.
_Execute = Callable[[Any, dict[str, Any]], Any]


def _take_quota(execute: _Execute, dialect: str, user_id: str, limit: int) -> None:
    upsert = _TAKE_UPSERT.get(dialect)
    params = {"b_user_id": user_id, "b_limit": limit}
    if upsert is not None:
        result = execute(upsert, params)
    else:
        execute(_LOCK_USAGE, params)
        take = _TAKE_BELOW if limit != UNLIMITED else _TAKE
        result = execute(take, params)
    if result.rowcount != 1:
        raise exception.KeypairLimitExceeded()


def _take_project_quota(connection: Any, project_id: str, limit: int) -> None:
    """One more key shared with ``project_id``, while below ``limit`` (the
    same statements as the per-user quota, on the project's usage row)."""
    dialect = connection.dialect.name
    params = {"b_project_id": project_id, "b_limit": limit}
    upsert = _TAKE_PROJECT_UPSERT.get(dialect)
    if upsert is not None:
        result = connection.execute(upsert, params)
    else:
        connection.execute(_LOCK_PROJECT_USAGE, params)
        take = _TAKE_PROJECT_BELOW if limit != UNLIMITED else _TAKE_PROJECT
        result = connection.execute(take, params)
    if result.rowcount != 1:
        raise exception.SharedKeypairLimitExceeded()


def _insert_within_quota(connection: Any, row: dict[str, Any], limit: int) -> int:
    """The create's statements on ``connection``; the new row's id."""
    if connection.dialect.name == "postgresql":
        created = connection.execute(
            _CREATE_WITH_QUOTA, dict(row, b_user_id=row["user_id"], b_limit=limit)
        ).first()
        if created is None:
            raise exception.KeypairLimitExceeded()
        return created[0]
    _take_quota(connection.execute, connection.dialect.name, row["user_id"], limit)
    return connection.execute(_INSERT, row).inserted_primary_key[0]


def _delete_releasing_quota(execute: _Execute, user_id: str, name: str) -> None:
    # The usage row first, as create locks it: the same lock order in both,
    # so a create and a delete of one user cannot deadlock.  A delete that
    # finds nothing rolls the release back.
    if execute(_RELEASE, {"b_user_id": user_id}).rowcount != 1:
        # No usage row yet, so no committed keypair either: answering "not
        # found" now orders this delete before any create in flight, instead
        # of deleting that create's row unaccounted.
        raise exception.KeypairNotFound(name, user_id)
    found = execute(_SHARED_WITH, {"user_id": user_id, "name": name}).first()
    if found is None:
        raise exception.KeypairNotFound(name, user_id)
    execute(_DELETE, {"user_id": user_id, "name": name})
    if found.shared_project_id is not None:
        execute(_RELEASE_PROJECT, {"b_project_id": found.shared_project_id})


def _names_user_constraint(error: db_exc.DBDuplicateEntry) -> bool:
    """Whether the duplicate is the user's own name (not the project's shared one)."""
    return not error.columns or "user_id" in error.columns


class KeypairStore(LifecycleQueries):
    """Keypair records.

    ``get`` and ``create`` return a ``StoredKeypair`` (every column);
    ``list`` rows carry name, public_key, fingerprint and type (what the
    list view shows).  All are read by attribute.
    """

    def __init__(self, database: Any, autocommit: Any = None) -> None:
        self._db = database
        self._autocommit = autocommit
        # PostgreSQL's create is one statement: its own transaction.
        dialect = autocommit.dialect.name if autocommit is not None else None
        self._create_is_one_statement = dialect == "postgresql"
        self._driver_reads = DriverReads()

    def _reading(self, context: Any) -> Any:
        """A connection for reads."""
        if self._autocommit is not None:
            return self._autocommit.connect()
        return self._db.reader.connection.using(context)

    @contextlib.contextmanager
    def _writing(self, context: Any, one_statement: bool = False) -> Iterator[Any]:
        """A connection whose work commits when the block ends, or none of it.

        On an autocommit connection one statement is its own transaction:
        ``BEGIN`` and ``COMMIT`` around it would be two more round trips.
        """
        if self._autocommit is None:
            with self._db.writer.connection.using(context) as connection:
                yield connection
        elif one_statement:
            with self._autocommit.connect() as connection:
                yield connection
        else:
            with transaction(self._autocommit) as connection:
                yield connection

    def _rows(self, context: Any, statement: Any, params: dict[str, Any]) -> builtins.list[Any]:
        with self._reading(context) as connection:
            return self._driver_reads.rows(connection, statement, params)

    def create(
        self, context: Any, values: dict[str, Any], limit: int, shared_limit: int = UNLIMITED
    ) -> StoredKeypair:
        """A new keypair within the user's quota (``limit``) and, when
        ``values`` shares it with a project, the project's (``shared_limit``)."""
        shared = values.get("shared_project_id") is not None
        if limit == 0 or (shared and shared_limit == 0):
            raise (
                exception.KeypairLimitExceeded()
                if limit == 0
                else exception.SharedKeypairLimitExceeded()
            )
        row = {**_UNSET_FACTS, **values, "created_at": _now(), "updated_at": None}
        try:
            row["id"] = self._insert(context, row, limit, shared_limit)
        except db_exc.DBDuplicateEntry as exc:
            if shared and not _names_user_constraint(exc):
                raise exception.SharedKeypairExists(row["name"]) from exc
            raise exception.KeypairExists(row["name"]) from exc
        return StoredKeypair(**row)

    @retried
    def _insert(self, context: Any, row: dict[str, Any], limit: int, shared_limit: int) -> int:
        project_id = row.get("shared_project_id")
        # Locks in one order everywhere: the user's usage, the key, the project's usage.
        one_statement = self._create_is_one_statement and project_id is None
        with self._writing(context, one_statement) as connection:
            created = _insert_within_quota(connection, row, limit)
            if project_id is not None:
                _take_project_quota(connection, project_id, shared_limit)
            return created

    def set_shared(
        self,
        context: Any,
        user_id: str,
        name: str,
        project_id: str | None,
        shared_limit: int = UNLIMITED,
    ) -> StoredKeypair:
        """Share the key with ``project_id`` (None: make it private again)."""
        if not (storable(user_id) and storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        try:
            self._set_shared(context, user_id, name, project_id, shared_limit)
        except db_exc.DBDuplicateEntry as exc:
            raise exception.SharedKeypairExists(name) from exc
        return self.get(context, user_id, name)

    @retried
    def _set_shared(
        self, context: Any, user_id: str, name: str, project_id: str | None, shared_limit: int
    ) -> None:
        key = {"user_id": user_id, "name": name}
        with self._writing(context) as connection:
            found = connection.execute(_SHARED_WITH, key).first()
            if found is None:
                raise exception.KeypairNotFound(name, user_id)
            before = found.shared_project_id
            if before == project_id:
                return
            connection.execute(
                _SET_SHARED,
                {"b_user_id": user_id, "b_name": name, "b_project_id": project_id, "b_now": _now()},
            )
            if before is not None:
                connection.execute(_RELEASE_PROJECT, {"b_project_id": before})
            if project_id is not None:
                if shared_limit == 0:
                    raise exception.SharedKeypairLimitExceeded()
                _take_project_quota(connection, project_id, shared_limit)

    @retried
    def get_shared(self, context: Any, project_id: str, name: str) -> StoredKeypair:
        """The key of ``name`` shared with ``project_id``."""
        if not (storable(project_id) and storable(name)):
            raise exception.SharedKeypairNotFound(name)
        found = self._rows(context, _GET_SHARED, {"project_id": project_id, "name": name})
        if not found:
            raise exception.SharedKeypairNotFound(name)
        return StoredKeypair._make(found[0])

    @retried
    def get(self, context: Any, user_id: str, name: str) -> StoredKeypair:
        if not (storable(user_id) and storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        found = self._rows(context, _GET, {"user_id": user_id, "name": name})
        if not found:
            raise exception.KeypairNotFound(name, user_id)
        return StoredKeypair._make(found[0])

    @retried
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
        if marker is not None:
            if not self._rows(context, _MARKER_EXISTS, {"user_id": user_id, "name": marker}):
                raise exception.Invalid(f"Marker {marker} could not be found.")
            params["marker"] = marker
        statement = _LIST[(marker is not None, limit is not None)]
        return builtins.list(map(ListedKeypair._make, self._rows(context, statement, params)))

    @retried
    def in_use(self, context: Any, user_id: str) -> int:
        """The user's keypairs as the quota counts them."""
        if not storable(user_id):
            return 0
        found = self._rows(context, _IN_USE, {"user_id": user_id})
        return (found[0][0] if found else None) or 0

    def delete(self, context: Any, user_id: str, name: str) -> None:
        if not (storable(user_id) and storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        self._delete(context, user_id, name)

    @retried
    def _delete(self, context: Any, user_id: str, name: str) -> None:
        with self._writing(context) as connection:
            _delete_releasing_quota(connection.execute, user_id, name)

    @retried
    def list_filtered(
        self,
        context: Any,
        user_id: str,
        filters: dict[str, str],
        limit: int | None = None,
        marker: str | None = None,
        lifecycle: dict[str, Any] | None = None,
        now: datetime.datetime | None = None,
        shared_with: str | None = None,
    ) -> builtins.list[Any]:
        """Full rows of the extended list: fingerprint (either form), algorithm,
        type and name prefix, paged like ``list``; ``lifecycle`` adds the
        keypairs 1.1 filters (``expired`` at ``now``, ``in_use``, ``labels``);
        with ``shared_with``, the keys shared with that project too (paged by
        name, then owner)."""
        values = [user_id, marker or "", shared_with or "", *filters.values()]
        if not all(storable(v) for v in values):
            if marker is not None and not storable(marker):
                raise exception.Invalid(f"Marker {marker} could not be found.")
            return []
        query = sa.select(_KP).where(_KP.c.user_id == user_id)
        if shared_with is not None:
            # The caller's own keys and the keys the project shares.
            query = sa.select(_KP).where(
                (_KP.c.user_id == user_id) | (_KP.c.shared_project_id == shared_with)
            )
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
        if lifecycle:
            query = query.where(*lifecycle_conditions(lifecycle, now or _now()))
        with self._reading(context) as connection:
            if marker is not None:
                key = {"user_id": user_id, "name": marker}
                found = connection.execute(_MARKER_EXISTS, key).first()
                if found is None and shared_with is not None:
                    shared = {"project_id": shared_with, "name": marker}
                    found = connection.execute(_GET_SHARED, shared).first()
                if found is None:
                    raise exception.Invalid(f"Marker {marker} could not be found.")
                query = query.where(_KP.c.name > marker)
            query = query.order_by(_KP.c.name, _KP.c.user_id)
            if limit is None:
                return list(connection.execute(query).all())
            # The marker is a name, and one name can be the caller's own key
            # and the project's shared key: a page never ends between the
            # two, so it may hold one row more than the limit.
            rows = list(connection.execute(query.limit(limit + 1)).all())
            if len(rows) > limit and rows[limit].name != rows[limit - 1].name:
                rows.pop()
            return rows
