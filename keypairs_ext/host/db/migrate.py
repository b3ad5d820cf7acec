"""Run an alembic script directory against a database.

The host and every extension keep their own script directory and their own
version table, so they migrate independently and in a fixed order.  No
``env.py`` is needed: the environment is configured here.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory


def upgrade(
    engine: sa.engine.Engine, script_location: str, version_table: str, target: str = "head"
) -> None:
    """Upgrade to ``target``; a database already there is left alone.

    The pending revisions run oldest first in one transaction, through
    alembic's public API (``op`` bound to this connection), and the version
    table then records ``target``.
    """
    config = Config()
    config.set_main_option("script_location", script_location)
    script = ScriptDirectory.from_config(config)
    with engine.begin() as connection:
        migration = MigrationContext.configure(connection, opts={"version_table": version_table})
        current = migration.get_current_revision() or "base"
        pending = list(script.iterate_revisions(target, current))
        if not pending:
            return
        with Operations.context(migration):
            for revision in reversed(pending):
                revision.module.upgrade()
        migration.stamp(script, target)


def current(engine: sa.engine.Engine, version_table: str) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        return context.get_current_revision()


HOST_MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")
HOST_VERSION_TABLE = "alembic_version_host"


def version_table_for(alias: str) -> str:
    return "alembic_version_" + "".join(c if c.isalnum() else "_" for c in alias)


def sync(engine: sa.engine.Engine, extension_classes: list) -> list[str]:
    """Migrate the host, then each enabled extension, to head.

    Returns what was migrated, in order.
    """
    done = ["host"]
    upgrade(engine, HOST_MIGRATIONS, HOST_VERSION_TABLE)
    for cls in extension_classes:
        location = cls.migrations()
        if location:
            upgrade(engine, location, version_table_for(cls.alias))
            done.append(cls.alias)
    return done
