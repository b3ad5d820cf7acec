"""The host's database: one oslo.db enginefacade per running host."""

from __future__ import annotations

import logging
import os
import traceback
import weakref
from typing import Any

import oslo_db
import sqlalchemy as sa
from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade, exc_filters

from keypairs_ext.host import conf as host_conf
from keypairs_ext.host import contract

# [database] options that the enginefacade takes as they are.
_ENGINE_OPTIONS = (
    "slave_connection",
    "sqlite_synchronous",
    "connection_recycle_time",
    "connection_debug",
    "connection_trace",
    "max_pool_size",
    "max_overflow",
    "pool_timeout",
    "max_retries",
    "retry_interval",
    "mysql_sql_mode",
    "mysql_wsrep_sync_wait",
    "connection_parameters",
)


def _sqlite_pragmas(dbapi_connection: Any, *pragmas: str) -> None:
    """WAL lets readers run beside a writer; waiting beats failing on a lock."""
    cursor = dbapi_connection.cursor()
    for pragma in ("busy_timeout = 30000", "journal_mode = WAL", *pragmas):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _pool_sizes(options: dict[str, Any]) -> tuple[int, int, int]:
    """(pool_size, max_overflow, timeout) from [database], with oslo.db's defaults."""
    overflow = options.get("max_overflow")
    return (
        options.get("max_pool_size") or 5,
        50 if overflow is None else int(overflow),
        options.get("pool_timeout") or 30,
    )


class SQLiteFilePool(sa.engine.CreateEnginePlugin):
    """Keep the enginefacade's SQLite file connections open between requests.

    oslo.db puts a NullPool on SQLite files, so every transaction opened the
    file and ran the connect-time PRAGMAs again (1 ms, against 0.1 ms for a
    transaction on an open connection).  This SQLAlchemy engine plugin,
    named in the URL the enginefacade is configured with, gives that engine
    a QueuePool (the pool SQLAlchemy itself uses for SQLite files) with the
    ``[database]`` pool sizes, carried as URL parameters and removed before
    the driver sees them, and our PRAGMAs before its first connection
    (oslo.db's own listener adds foreign_keys and synchronous).  The
    connections are made with ``check_same_thread=false`` (see
    create_facade): one is used by one thread at a time.
    """

    NAME = "keypairs_sqlite_file_pool"
    _SIZES = {"pool_size": "kp_pool_size", "max_overflow": "kp_max_overflow"}
    _TIMEOUT = "kp_pool_timeout"

    def __init__(self, url: sa.engine.URL, kwargs: dict[str, Any]) -> None:
        super().__init__(url, kwargs)
        kwargs["poolclass"] = sa.pool.QueuePool
        for argument, parameter in self._SIZES.items():
            kwargs[argument] = int(url.query[parameter])  # type: ignore[arg-type]
        kwargs["pool_timeout"] = float(url.query[self._TIMEOUT])  # type: ignore[arg-type]

    def update_url(self, url: sa.engine.URL) -> sa.engine.URL:
        return url.difference_update_query([*self._SIZES.values(), self._TIMEOUT])

    def engine_created(self, engine: sa.engine.Engine) -> None:
        sa.event.listen(
            engine, "connect", lambda dbapi_connection, _: _sqlite_pragmas(dbapi_connection)
        )

    @classmethod
    def parameters(cls, options: dict[str, Any]) -> str:
        """The URL parameters that name this plugin with the pool's sizes."""
        size, overflow, timeout = _pool_sizes(options)
        return (
            f"plugin={cls.NAME}&{cls._SIZES['pool_size']}={size}"
            f"&{cls._SIZES['max_overflow']}={overflow}&{cls._TIMEOUT}={timeout}"
        )


sa.dialects.plugins.register(SQLiteFilePool.NAME, __name__, SQLiteFilePool.__name__)


# oslo.db wraps a lost connection in DBConnectionError, but its pattern for a
# failed *connect* to PostgreSQL ("could not connect to server") predates
# libpq 14, which says "connection to server at ... failed: Connection
# refused" (or "...: FATAL: the database system is shutting down").  Without
# this filter such an error escapes as a bare OperationalError, which nothing
# recognises as an outage (and oslo.db's connect retries do not retry).
@exc_filters.filters(
    "postgresql", sa.exc.OperationalError, r".*connection to server (?:at|on) .* failed"
)
def _postgresql_connect_failed(
    error: Exception, _match: Any, _engine_name: str, _is_disconnect: bool
) -> None:
    raise db_exc.DBConnectionError(error)


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot serve now (answer 503).

    Covers a lost or refused connection (whether or not oslo.db classified
    it), a deadlock victim, and a pool with no free connection in time.
    """
    if isinstance(error, (db_exc.DBConnectionError, db_exc.DBDeadlock)):
        return True
    if isinstance(error, db_exc.DBError):
        error = error.inner_exception or error
    return isinstance(
        error, (sa.exc.OperationalError, sa.exc.TimeoutError, sa.exc.DisconnectionError)
    ) or bool(getattr(error, "connection_invalidated", False))


def reason(error: BaseException) -> str:
    """One line naming ``error`` and the driver's message (no SQL, no parameters)."""
    cause = getattr(error, "inner_exception", None) or error
    cause = getattr(cause, "orig", None) or cause
    lines = str(cause).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _engine_options(conf: cfg.ConfigOpts, url: str, sqlite_file: bool) -> dict[str, Any]:
    options = {
        name: getattr(conf.database, name)
        for name in _ENGINE_OPTIONS
        if getattr(conf.database, name, None) is not None
    }
    if sqlite_file and "check_same_thread" not in url:
        # Pooled connections move between threads (one at a time).
        options["connection_parameters"] = "&".join(
            p for p in (options.get("connection_parameters"), "check_same_thread=false") if p
        )
    return options


def _is_sqlite_file(url: str) -> bool:
    return url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:")


# Each backend's package extra, and the SQLAlchemy driver name it installs.
DRIVER_EXTRAS = {"postgresql": ("postgresql", "psycopg"), "mysql": ("mysql", "pymysql")}


class MissingDriver(RuntimeError):
    """The configured database needs a Python driver that is not installed."""


def check_driver(url: str) -> None:
    """Raise MissingDriver, saying what to install, unless ``url``'s driver imports."""
    try:
        parsed = sa.engine.make_url(url)
        dialect = parsed.get_dialect()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise MissingDriver(f"[database] connection is not a usable database URL: {exc}") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        backend = parsed.get_backend_name()
        module = exc.name or dialect.driver
        if backend not in DRIVER_EXTRAS:
            raise MissingDriver(
                f"the {backend} database driver '{module}' is not installed"
            ) from None
        extra, driver = DRIVER_EXTRAS[backend]
        hint = f"pip install 'keypairs-ext[{extra}]'"
        if dialect.driver != driver:
            hint += f" and write the URL as {backend}+{driver}://..."
        raise MissingDriver(
            f"the {backend} database driver '{module}' is not installed: {hint}"
        ) from None


def create_facade(conf: cfg.ConfigOpts) -> Any:
    """A started-on-first-use transaction context manager for ``conf``."""
    url = host_conf.database_connection(conf)
    sqlite_file = _is_sqlite_file(url)
    if sqlite_file:
        os.makedirs(os.path.dirname(url.split("?")[0][len("sqlite:///") :]) or ".", exist_ok=True)
    facade = enginefacade.transaction_context()
    options = _engine_options(conf, url, sqlite_file)
    if sqlite_file:
        parameters = (options.get("connection_parameters"), SQLiteFilePool.parameters(options))
        options["connection_parameters"] = "&".join(p for p in parameters if p)
    # thread_checkin (on by default) sleeps at every pool check-in so that
    # eventlet greenthreads can run; real threads need no such yield.
    facade.configure(connection=url, sqlite_fk=True, thread_checkin=False, **options)
    if conf.database.connection_trace:
        # oslo.db comments these engines' statements itself; say so to the store.
        facade.append_on_engine_create(_mark_statement_hooks)
    return facade


def create_autocommit_engine(conf: cfg.ConfigOpts) -> sa.engine.Engine | None:
    """An engine for work that is one statement: each statement commits itself.

    The enginefacade wraps every use in a transaction and pings each pooled
    connection before handing it out.  For one ``SELECT`` (or one atomic
    ``INSERT ... RETURNING``) that is up to three extra round trips on
    PostgreSQL (ping, ``BEGIN``, ``ROLLBACK``) and an explicit ``BEGIN`` on
    SQLite.  This engine's connections stay in autocommit mode, are not
    pinged or reset when pooled, and carry oslo.db's exception filters: a
    connection the database dropped raises ``DBConnectionError``, SQLAlchemy
    then discards the pool's older connections, and callers retry once.
    None for an in-memory SQLite database, which one engine cannot share
    with another.
    """
    url = host_conf.database_connection(conf)
    sqlite_file = _is_sqlite_file(url)
    if url.startswith("sqlite") and not sqlite_file:
        return None
    options = _engine_options(conf, url, sqlite_file)
    engine_url = sa.engine.make_url(url)
    parameters = options.get("connection_parameters")
    if parameters:
        engine_url = engine_url.update_query_string(parameters, append=True)
    size, overflow, timeout = _pool_sizes(options)
    engine = sa.create_engine(
        engine_url,
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        pool_reset_on_return=None,
        pool_recycle=conf.database.connection_recycle_time,
        poolclass=sa.pool.QueuePool,
        pool_size=size,
        max_overflow=overflow,
        pool_timeout=timeout,
    )
    # oslo.db's error translation (DBConnectionError, DBDuplicateEntry, ...).
    # register_engine() would also track savepoint rollbacks through commit
    # and rollback listeners, which cost every checkin and which an engine
    # that never opens a transaction has no use for.
    sa.event.listen(engine, "handle_error", exc_filters.handler, retval=True)
    _guard_fork(engine)
    if sqlite_file:
        _tune_autocommit_sqlite(engine, conf.database.sqlite_synchronous)
    if engine.dialect.name == "mysql":
        _set_mysql_session(
            engine, conf.database.mysql_sql_mode, conf.database.mysql_wsrep_sync_wait
        )
    if conf.database.connection_trace:
        _trace_comments(engine)
    _log_statements(conf.database.connection_debug)
    return engine


def _guard_fork(engine: sa.engine.Engine) -> None:
    """A forked worker opens its own connections, never its parent's.

    The child starts with an empty pool and leaves the parent's connections
    alone (SQLAlchemy's recipe for ``os.fork``): checked at the fork, not at
    every checkout.
    """
    engine_ref = weakref.ref(engine)

    def _in_child() -> None:
        forked = engine_ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=_in_child)


def _set_mysql_session(
    engine: sa.engine.Engine, sql_mode: str | None, wsrep_sync_wait: int | None
) -> None:
    """What oslo.db sets on each of the enginefacade's MySQL connections.

    ``wsrep_sync_wait`` makes a Galera node wait until it has applied every
    write the cluster committed before it answers (read-your-writes across
    nodes); ``sql_mode`` (``TRADITIONAL`` by default) turns silent
    truncations into errors.
    """
    settings = [
        (statement, value)
        for statement, value in (
            ("SET SESSION sql_mode = %s", sql_mode),
            ("SET SESSION wsrep_sync_wait = %s", wsrep_sync_wait),
        )
        if value is not None
    ]

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for statement, value in settings:
            cursor.execute(statement, [value])
        cursor.close()


def _trace_comments(engine: sa.engine.Engine) -> None:
    """``[database] connection_trace``: each statement ends in a comment naming
    the three calls that led to it, as oslo.db adds on its own engines."""
    libraries = tuple(os.path.dirname(module.__file__ or "") for module in (sa, oslo_db))
    _mark_statement_hooks(engine)

    @sa.event.listens_for(engine, "before_cursor_execute", retval=True)
    def _comment(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        stack = traceback.extract_stack()
        first = next((i for i, f in enumerate(stack) if f.filename.startswith(libraries)), 0)
        if first:
            trace = "; ".join(
                f"File: {f.filename} ({f.lineno}) {f.name}" for f in stack[first - 3 : first]
            )
            statement = f"{statement}  -- {trace}"
        return statement, parameters


def _mark_statement_hooks(engine: sa.engine.Engine) -> None:
    """Tell the extension that every statement of ``engine`` must pass its hooks."""
    engine.update_execution_options(**{contract.STATEMENT_HOOKS: True})


def _log_statements(connection_debug: int) -> None:
    """``[database] connection_debug``: SQLAlchemy's statement log at oslo.db's
    levels (100: statements and rows, 50: statements), for every engine."""
    level = logging.WARNING
    if connection_debug >= 100:
        level = logging.DEBUG
    elif connection_debug >= 50:
        level = logging.INFO
    logging.getLogger("sqlalchemy.engine").setLevel(level)


def _tune_autocommit_sqlite(engine: sa.engine.Engine, synchronous: bool) -> None:
    # What the enginefacade's connections get from SQLiteFilePool and oslo.db.
    pragmas = ("foreign_keys = ON",) + (() if synchronous else ("synchronous = OFF",))
    sa.event.listen(
        engine, "connect", lambda dbapi_connection, _: _sqlite_pragmas(dbapi_connection, *pragmas)
    )


def writer_engine(facade: Any) -> sa.engine.Engine:
    return facade.writer.get_engine()
