"""Hot statements run directly on the driver's pooled connection.

For a keypair create, SQLAlchemy's per-execution work (an execution
context, parameter processing, a result wrapper, for each of four
statements on SQLite) cost about 0.1 ms of a 0.14 ms create on SQLite
without the commit's disk wait, and as much around PostgreSQL's one
statement; for a show, a quarter of the whole request in process.  The
statements here are still SQLAlchemy Core constructs, compiled once per
dialect; a request runs the compiled SQL on a pooled DBAPI connection with
the driver's own parameters.

Errors keep their meaning: a driver error rolls the work back (or discards
a connection that was lost or cannot roll back) and raises
:class:`DriverError`.  Callers then do the same work through SQLAlchemy,
where oslo.db translates whatever the database says (a duplicate name, a
lost connection, a locked file) into the error the API answers with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from keypairs_ext.db.connections import begin_statement

T = TypeVar("T")


class DriverError(Exception):
    """The driver refused the work, and nothing of it was kept."""


def directly_or(on_driver: Callable[[], T] | None, through_sqlalchemy: Callable[[], T]) -> T:
    """``on_driver()``, or the same work ``through_sqlalchemy()`` when there is
    no driver path or the driver refused: oslo.db's error translation then
    names the cause (a duplicate name, a lost connection, a locked file)."""
    if on_driver is not None:
        try:
            return on_driver()
        except DriverError:
            pass
    return through_sqlalchemy()


class CompiledStatement:
    """A Core statement compiled for one dialect, run with driver parameters.

    ``parameters`` takes the statement's named bind parameters (its
    literals, such as the ``1`` of ``in_use + 1``, keep their values);
    ``rows`` turns what the driver fetched into the values SQLAlchemy would
    have returned.
    """

    def __init__(self, statement: Any, dialect: sa.engine.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        named = [bind for bind in compiled.binds.values() if bind.required]
        self._template = compiled.construct_params({bind.key: None for bind in named})
        self._positions = compiled.positiontup  # None for named paramstyles
        # Types the driver does not take or return as they are (on SQLite, a
        # DateTime is the string SQLAlchemy itself stores and parses).
        self._bind_processors: dict[str, Callable[[Any], Any]] = {}
        for bind in named:
            process = dialect.type_descriptor(bind.type).bind_processor(dialect)
            if process is not None:
                self._bind_processors[bind.key] = process
        columns = getattr(statement, "selected_columns", ())
        self._row_processors = [
            (index, process)
            for index, column in enumerate(columns)
            if (process := dialect.type_descriptor(column.type).result_processor(dialect, None))
        ]

    def parameters(self, values: Mapping[str, Any]) -> Any:
        params = {**self._template, **values}
        for name, process in self._bind_processors.items():
            params[name] = process(params[name])
        if self._positions is None:
            return params
        return tuple(params[name] for name in self._positions)

    def rows(self, fetched: list[Any]) -> list[Any]:
        if not self._row_processors:
            return fetched
        processed = []
        for row in fetched:
            values = list(row)
            for index, process in self._row_processors:
                values[index] = process(values[index])
            processed.append(values)
        return processed


def executor(
    cursor: Any, compiled: Mapping[Any, CompiledStatement]
) -> Callable[[Any, Mapping[str, Any]], Any]:
    """``execute(statement, params)``, as a SQLAlchemy connection has it, on a
    DBAPI ``cursor``: runs the Core statement's entry in ``compiled`` and
    returns the cursor (its ``rowcount``, ``lastrowid`` and rows)."""

    def execute(statement: Any, params: Mapping[str, Any]) -> Any:
        statement_compiled = compiled[statement]
        cursor.execute(statement_compiled.sql, statement_compiled.parameters(params))
        return cursor

    return execute


@contextlib.contextmanager
def driver_cursor(engine: sa.engine.Engine, transaction: bool = False) -> Iterator[Any]:
    """A DBAPI cursor on a pooled connection of an autocommit ``engine``.

    With ``transaction`` the work is one transaction (begun as
    :func:`~keypairs_ext.db.connections.begin_statement` says), committed
    when the block ends and rolled back when it raises.  A driver error,
    including a failure to connect, raises :class:`DriverError` once the
    work is undone.
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        pooled = engine.raw_connection()
    except dbapi_error as exc:
        raise DriverError(str(exc)) from exc
    cursor = None
    began = False
    try:
        cursor = pooled.cursor()
        if transaction:
            cursor.execute(begin_statement(engine))
            began = True
        yield cursor
        if began:
            cursor.execute("COMMIT")
    except BaseException as exc:
        is_driver_error = isinstance(exc, dbapi_error)
        lost = is_driver_error and engine.dialect.is_disconnect(
            cast(Any, exc), pooled.dbapi_connection, cursor
        )
        if not lost and began:
            lost = not _rolled_back(pooled)
        if lost:
            # Never pool a connection that may still hold the transaction.
            pooled.invalidate(exc)
        if is_driver_error:
            raise DriverError(str(exc)) from exc
        raise
    finally:
        pooled.close()


def _rolled_back(pooled: Any) -> bool:
    try:
        pooled.cursor().execute("ROLLBACK")
    except Exception:
        return False
    return True
