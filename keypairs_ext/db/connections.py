"""Transactions and retries on the host's database, through oslo.db and SQLAlchemy.

The store writes on :attr:`HostServices.autocommit` when the host offers
it: an engine whose connections commit each statement, are not pinged
before use and carry oslo.db's error translation (the contract's promise).
A transaction there is ``BEGIN`` and ``COMMIT`` sent as statements.

:func:`retried` is the store's one retry policy: a dropped connection is
retried once at once, and a deadlock (MySQL's error 1213, which is also how
a Galera certification conflict arrives, or PostgreSQL's deadlock report)
a few times after a random pause, with oslo.db's ``wrap_db_retry``.  Both
are safe for the store's work: the database rolled the whole transaction
back before it raised either.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc

T = TypeVar("T")

#: the most times one request's work is run again after a deadlock
DEADLOCK_RETRIES = 6
# oslo.db sleeps this long before the first retry, then a random time below
# twice the previous bound (capped): 10 ms, then < 40, < 80, < 160, < 250 ms.
_FIRST_PAUSE = 0.01
_LONGEST_PAUSE = 0.25


def begin_statement(engine: sa.engine.Engine) -> str:
    """``BEGIN``; on SQLite ``BEGIN IMMEDIATE``, which takes the write lock at
    once (waiting up to ``busy_timeout``) instead of at the first write."""
    return "BEGIN IMMEDIATE" if engine.dialect.name == "sqlite" else "BEGIN"


@contextlib.contextmanager
def transaction(engine: sa.engine.Engine) -> Iterator[sa.engine.Connection]:
    """One explicit transaction on a connection of an autocommit ``engine``.

    ``BEGIN`` and ``COMMIT`` are sent as statements: two round trips fewer
    than the enginefacade's ping and reset on PostgreSQL.  Any exception
    rolls back; a connection that cannot even roll back is discarded, so a
    pooled connection never holds an open transaction.
    """
    with engine.connect() as connection:
        connection.exec_driver_sql(begin_statement(engine))
        try:
            yield connection
            connection.exec_driver_sql("COMMIT")
        except BaseException:
            try:
                connection.exec_driver_sql("ROLLBACK")
            except Exception:
                connection.invalidate()
            raise


def _once_more_on_disconnect(function: Callable[..., T]) -> Callable[..., T]:
    """Run ``function`` again, once, when its connection had been dropped.

    The autocommit engine's connections are not pinged: after a database
    restart the first use of each old connection fails, and the retry gets
    a new one.  (A connection lost while the database answers ``COMMIT``
    leaves the outcome unknown; the retry then finds the write done: a 409
    for a create, a 404 for a delete.)  Not ``wrap_db_retry``: while the
    database is down it would pause each request and log an ERROR with a
    traceback for it; here the second failure simply propagates and the
    API answers 503.
    """

    @functools.wraps(function)
    def once_more(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except db_exc.DBConnectionError:
            return function(*args, **kwargs)

    return once_more


_retry_deadlocks = oslo_db_api.wrap_db_retry(
    max_retries=DEADLOCK_RETRIES,
    retry_interval=_FIRST_PAUSE,
    inc_retry_interval=True,
    max_retry_interval=_LONGEST_PAUSE,
    retry_on_deadlock=True,
)


def retried(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` under the store's retry policy (see the module's doc).

    Only for work that is one transaction, or one statement, and so either
    committed or left nothing behind.
    """
    return _retry_deadlocks(_once_more_on_disconnect(function))
