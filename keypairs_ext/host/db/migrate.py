"""Run an alembic script directory against a database.

The host and every extension keep their own script directory and their own
version table, so they migrate independently and in a fixed order.  No
``env.py`` is needed: the environment is configured here.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory


def upgrade(
    engine: sa.engine.Engine, script_location: str, version_table: str, target: str = "head"
) -> None:
    """Upgrade to ``target``; a database already there is left alone."""
    config = Config()
    config.set_main_option("script_location", script_location)
    script = ScriptDirectory.from_config(config)

    def do_upgrade(revision, _context):
        return script._upgrade_revs(target, revision)

    with engine.begin() as connection:
        with EnvironmentContext(config, script, fn=do_upgrade) as env:
            env.configure(connection=connection, version_table=version_table)
            env.run_migrations()


def current(engine: sa.engine.Engine, version_table: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

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
