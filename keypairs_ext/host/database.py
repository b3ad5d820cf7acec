"""The host's database: one oslo.db enginefacade per running host."""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from oslo_db.sqlalchemy import enginefacade

from keypairs_ext.host import conf as host_conf

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


def _tune_sqlite(engine: sa.engine.Engine) -> None:
    """WAL lets readers run beside a writer; waiting beats failing on a lock."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


def create_facade(conf: cfg.ConfigOpts) -> Any:
    """A started-on-first-use transaction context manager for ``conf``."""
    url = host_conf.database_connection(conf)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        os.makedirs(os.path.dirname(url[len("sqlite:///") :]) or ".", exist_ok=True)
    facade = enginefacade.transaction_context()
    options = {
        name: getattr(conf.database, name)
        for name in _ENGINE_OPTIONS
        if getattr(conf.database, name, None) is not None
    }
    facade.configure(connection=url, sqlite_fk=True, **options)
    facade.append_on_engine_create(_tune_sqlite)
    return facade


def writer_engine(facade: Any) -> sa.engine.Engine:
    return facade.writer.get_engine()
