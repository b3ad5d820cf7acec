"""``keypairs-manage``: operator commands (``db sync``, ``db version``)."""

from __future__ import annotations

import sys

from oslo_config import cfg

from keypairs_ext.host import app, database, loader
from keypairs_ext.host import conf as host_conf
from keypairs_ext.host.cmd import failures
from keypairs_ext.host.db import migrate


def _extension_classes(conf: cfg.ConfigOpts) -> list:
    classes = loader.select(loader.find_installed(), conf.api.enabled_extensions)
    for cls in classes:
        cls.register_opts(conf)
    return classes


def db_sync(conf: cfg.ConfigOpts) -> None:
    classes = _extension_classes(conf)
    engine = database.writer_engine(database.create_facade(conf))
    done = migrate.sync(engine, classes)
    print("Migrated to head: " + ", ".join(done))


def db_version(conf: cfg.ConfigOpts) -> None:
    classes = _extension_classes(conf)
    engine = database.writer_engine(database.create_facade(conf))
    print(f"host: {migrate.current(engine, migrate.HOST_VERSION_TABLE)}")
    for cls in classes:
        if cls.migrations():
            table = migrate.version_table_for(cls.alias)
            print(f"{cls.alias}: {migrate.current(engine, table)}")


def _add_commands(subparsers) -> None:
    db = subparsers.add_parser("db", help="Database schema")
    db_commands = db.add_subparsers(dest="action")
    sync = db_commands.add_parser("sync", help="Migrate the host and every enabled extension")
    sync.set_defaults(func=db_sync)
    version = db_commands.add_parser("version", help="Show each schema's revision")
    version.set_defaults(func=db_version)


command_opt = cfg.SubCommandOpt("command", title="Commands", handler=_add_commands)

PROG = "keypairs-manage"
DESCRIPTION = (
    "Operator commands of the keypairs reference host: 'db sync' creates or "
    "upgrades the database schema of the host and of every enabled extension."
)


def main(argv: list[str] | None = None) -> None:
    with failures.one_line(PROG):
        conf = app.make_conf(
            sys.argv[1:] if argv is None else argv,
            cli_opts=[command_opt],
            prog=PROG,
            description=DESCRIPTION,
            version=failures.version(),
        )
        func = getattr(conf.command, "func", None)
        if func is None:
            sys.exit(f"usage: {PROG} [--config-file FILE] db {{sync,version}}")
        database.check_driver(host_conf.database_connection(conf))
        func(conf)
