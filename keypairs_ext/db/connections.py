"""Transactions and retries on the host's database, through oslo.db and SQLAlchemy.

The store writes on :attr:`HostServices.autocommit` when the host offers
it: an engine whose connections commit each statement, are not pinged
before use and carry oslo.db's error translation (the contract's promise).
A transaction there is ``BEGIN`` and ``COMMIT`` sent as statements.
:class:`DriverReads` runs the store's SELECTs on the driver's cursor of
such a connection.

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
import logging
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc

from keypairs_ext.host.contract import STATEMENT_HOOKS

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


class _DriverStatement(NamedTuple):
    sql: str
    positional: tuple[str, ...] | None  # bind names in order, for a positional paramstyle
    compiled: Any
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, result processor)


class DriverReads:
    """SELECTs run on the driver's cursor of a SQLAlchemy connection.

    On the store's hot reads SQLAlchemy's execute (parameters, events,
    result metadata, a Row per row; on psycopg also a ``Column`` per column
    of ``cursor.description``) cost more than the query itself.  Here each
    statement is compiled once per dialect, and its rows converted by the
    columns' own result processors, as SQLAlchemy converts them.  The
    connection is still SQLAlchemy's (checked out with its pool events and
    oslo.db's naming of a failed connect), and a driver error is left to
    SQLAlchemy: the SELECT runs again through ``connection.execute``, which
    names the error (oslo.db's filters) and invalidates a lost connection.
    While SQLAlchemy logs statements (``[database] connection_debug``) or
    the host hooks them (:data:`~keypairs_ext.host.contract.STATEMENT_HOOKS`,
    ``[database] connection_trace``), reads take its path.  Statements are kept compiled by
    identity: pass statements built once, not one per call.
    """

    def __init__(self) -> None:
        self._statements: dict[tuple[Any, Any], _DriverStatement | None] = {}

    def _compiled(self, statement: Any, dialect: Any) -> _DriverStatement | None:
        """``statement`` rendered for ``dialect``; None if only SQLAlchemy can run it."""
        key = (statement, dialect)
        if key not in self._statements:
            compiled = statement.compile(dialect=dialect)
            # Parameters rendered at execution time need SQLAlchemy.
            direct = not (compiled.post_compile_params or compiled.literal_execute_params)
            processors = (
                (index, column.type.dialect_impl(dialect).result_processor(dialect, None))
                for index, column in enumerate(statement.selected_columns)
            )
            self._statements[key] = (
                _DriverStatement(
                    sql=compiled.string,
                    positional=tuple(compiled.positiontup) if compiled.positional else None,
                    compiled=compiled,
                    processors=tuple((i, p) for i, p in processors if p is not None),
                )
                if direct
                else None
            )
        return self._statements[key]

    def rows(
        self, connection: sa.engine.Connection, statement: Any, params: dict[str, Any]
    ) -> list[Any]:
        """The rows of ``statement`` (a SELECT) with ``params``, as tuples."""
        driver = self._compiled(statement, connection.dialect)
        if (
            driver is None
            or connection.engine.logger.isEnabledFor(logging.INFO)
            or connection.get_execution_options().get(STATEMENT_HOOKS)
        ):
            return list(connection.execute(statement, params).all())
        values = driver.compiled.construct_params(params)
        parameters: Any = (
            values if driver.positional is None else tuple(values[n] for n in driver.positional)
        )
        try:
            cursor = _read_cursor(connection)
            cursor.execute(driver.sql, parameters)
            rows = list(cursor.fetchall())
        except connection.dialect.loaded_dbapi.Error:
            return list(connection.execute(statement, params).all())
        if not driver.processors:
            return rows
        converted = []
        for row in rows:
            values_of_row = list(row)
            for index, processor in driver.processors:
                values_of_row[index] = processor(values_of_row[index])
            converted.append(tuple(values_of_row))
        return converted


def _read_cursor(connection: sa.engine.Connection) -> Any:
    """The driver cursor kept for reads on ``connection``'s DBAPI connection.

    A new psycopg cursor per read costs more than the SQLAlchemy checkout
    (its adapters and result loaders are set up again).  The cursor lives in
    ``connection.info``, which goes with the DBAPI connection: it is dropped
    when the pool closes or invalidates that connection.
    """
    cursor = connection.info.get(_READ_CURSOR)
    if cursor is None:
        cursor = connection.info[_READ_CURSOR] = connection.connection.cursor()
    return cursor


_READ_CURSOR = "keypairs_ext.read_cursor"


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
