"""Queries of the keypair lifecycle (keypairs 1.1): update, usage, filters, sweep.

Mixed into :class:`keypairs_ext.db.api.KeypairStore`.  Labels are stored as
``,key=value,...,`` (sorted), so a wanted pair is one ``LIKE '%,k=v,%'``
evaluated on the user's rows, which the (user_id, name) index already
narrows; ``in_use`` is a lookup of ``key_pair_servers``' primary key per row.
"""

from __future__ import annotations

import builtins
import datetime
from collections.abc import Iterable, Mapping
from typing import Any, cast

import sqlalchemy as sa

from keypairs_ext import exception
from keypairs_ext.db.connections import retried
from keypairs_ext.db.models import KeyPair, KeyPairServer
from keypairs_ext.host.contract import storable

_KP = cast(sa.Table, KeyPair.__table__)
_SERVERS = cast(sa.Table, KeyPairServer.__table__)
# "Has a server": a correlated subquery with LIMIT 1, looked up by the usage
# table's primary key for each of the user's rows.  (As EXISTS, PostgreSQL
# turned it into a hash semi join that reads the whole usage table.)
_A_SERVER = (
    sa.select(sa.literal(1))
    .where(_SERVERS.c.keypair_uuid == _KP.c.uuid)
    .limit(1)
    .correlate(_KP)
    .scalar_subquery()
)


class KeypairInUse(exception.Conflict):
    message = (
        "Key pair '%(name)s' is used by %(count)d server(s); delete it with force=true "
        "to delete it anyway (the servers keep their copy of the key)."
    )

    def __init__(self, name: str, count: int) -> None:
        super().__init__(name=name, count=count)
        self.count = count


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def lifecycle_conditions(filters: Mapping[str, Any], now: datetime.datetime) -> list[Any]:
    """WHERE clauses for the extended list's ``expired``, ``in_use`` and ``labels``."""
    conditions: list[Any] = []
    if "expired" in filters:
        expired = _KP.c.expires_at <= now
        conditions.append(
            expired if filters["expired"] else sa.or_(_KP.c.expires_at.is_(None), ~expired)
        )
    if "in_use" in filters:
        conditions.append(_A_SERVER.is_not(None) if filters["in_use"] else _A_SERVER.is_(None))
    for key, value in sorted(filters.get("labels", {}).items()):
        pattern = "%," + _like_literal(f"{key}={value}") + ",%"
        conditions.append(_KP.c.labels.like(pattern, escape="\\"))
    return conditions


class LifecycleQueries:
    """Lifecycle queries on the store's connections (its ``_reading`` and ``_writing``)."""

    def _reading(self, context: Any) -> Any:
        raise NotImplementedError

    def _writing(self, context: Any, one_statement: bool = False) -> Any:
        raise NotImplementedError

    @retried
    def update(self, context: Any, user_id: str, name: str, values: dict[str, Any]) -> None:
        """Change the given lifecycle columns of one keypair (and ``updated_at``)."""
        if not (storable(user_id) and storable(name)):
            raise exception.KeypairNotFound(name, user_id)
        values = dict(values, updated_at=datetime.datetime.now(datetime.UTC).replace(tzinfo=None))
        statement = (
            sa.update(_KP).where(_KP.c.user_id == user_id, _KP.c.name == name).values(values)
        )
        with self._writing(context) as connection:
            if connection.execute(statement).rowcount != 1:
                raise exception.KeypairNotFound(name, user_id)

    @retried
    def server_counts(self, context: Any, uuids: Iterable[str | None]) -> dict[str, int]:
        """Servers using each keypair, by keypair UUID (absent: none)."""
        wanted = sorted({u for u in uuids if u})
        if not wanted:
            return {}
        statement = (
            sa.select(_SERVERS.c.keypair_uuid, sa.func.count())
            .where(_SERVERS.c.keypair_uuid.in_(wanted))
            .group_by(_SERVERS.c.keypair_uuid)
        )
        with self._reading(context) as connection:
            return {uuid: count for uuid, count in connection.execute(statement)}

    @retried
    def servers_of(self, context: Any, keypair_uuid: str) -> builtins.list[Any]:
        """The servers using a keypair: (server_id, server_name, created_at), oldest first."""
        statement = (
            sa.select(_SERVERS.c.server_id, _SERVERS.c.server_name, _SERVERS.c.created_at)
            .where(_SERVERS.c.keypair_uuid == keypair_uuid)
            .order_by(_SERVERS.c.created_at, _SERVERS.c.server_id)
        )
        with self._reading(context) as connection:
            return builtins.list(connection.execute(statement).all())

    @retried
    def record_server(
        self,
        context: Any,
        server_id: str,
        name: str,
        created_at: datetime.datetime,
        keypair_uuids: Iterable[str],
    ) -> None:
        """``server_id`` now uses exactly ``keypair_uuids`` (none: forget it)."""
        rows = [
            {
                "keypair_uuid": uuid,
                "server_id": server_id,
                "server_name": name,
                "created_at": created_at,
            }
            for uuid in sorted(set(keypair_uuids))
        ]
        with self._writing(context) as connection:
            connection.execute(sa.delete(_SERVERS).where(_SERVERS.c.server_id == server_id))
            if rows:
                connection.execute(sa.insert(_SERVERS), rows)

    def forget_server(self, context: Any, server_id: str) -> None:
        self.record_server(context, server_id, "", datetime.datetime.min, ())

    def delete_unused(self, context: Any, keypair: Any, force: bool) -> None:
        """The extended delete: refused while servers use the key, unless ``force``."""
        count = self.server_counts(context, [keypair.uuid]).get(keypair.uuid, 0)
        if count and not force:
            raise KeypairInUse(keypair.name, count)
        cast(Any, self).delete(context, keypair.user_id, keypair.name)
        if count:
            with self._writing(context) as connection:
                connection.execute(
                    sa.delete(_SERVERS).where(_SERVERS.c.keypair_uuid == keypair.uuid)
                )

    @retried
    def expired_batch(
        self,
        context: Any,
        before: datetime.datetime,
        after: tuple[datetime.datetime, int] | None,
        limit: int,
    ) -> builtins.list[Any]:
        """Up to ``limit`` keypairs that expired before ``before``, in expiry
        order after ``after`` (the last (expires_at, id) of the previous batch)."""
        statement = sa.select(
            _KP.c.id, _KP.c.user_id, _KP.c.name, _KP.c.uuid, _KP.c.expires_at
        ).where(_KP.c.expires_at <= before)
        if after is not None:
            statement = statement.where(
                sa.or_(
                    _KP.c.expires_at > after[0],
                    sa.and_(_KP.c.expires_at == after[0], _KP.c.id > after[1]),
                )
            )
        statement = statement.order_by(_KP.c.expires_at, _KP.c.id).limit(limit)
        with self._reading(context) as connection:
            return builtins.list(connection.execute(statement).all())
