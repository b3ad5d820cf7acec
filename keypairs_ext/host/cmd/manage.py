"""``keypairs-manage``: operator commands (``db sync``, ``db version``), and
the commands of the installed extensions (``Extension.commands()``)."""

from __future__ import annotations

import functools
import sys
from typing import Any

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


def run_extension_command(alias: str, command: Any, conf: cfg.ConfigOpts) -> None:
    """Build the host, then run ``command`` on the enabled extension ``alias``."""
    host = app.build(conf)
    try:
        found = [ext for ext in host.extensions if ext.alias == alias]
        if not found:
            sys.exit(
                f"keypairs-manage: extension {alias!r} is not enabled ([api] enabled_extensions)"
            )
        status = command.run(found[0], conf.command)
    finally:
        host.close()
    if status:
        sys.exit(status)


def _installed_commands() -> list[tuple[str, Any]]:
    try:
        installed = loader.find_installed()
    except loader.ExtensionLoadError:
        return []  # reported by the commands that load extensions
    return [(alias, c) for alias, cls in installed.classes.items() for c in cls.commands()]


def _add_commands(subparsers) -> None:
    db = subparsers.add_parser("db", help="Database schema")
    db_commands = db.add_subparsers(dest="action")
    sync = db_commands.add_parser("sync", help="Migrate the host and every enabled extension")
    sync.set_defaults(func=db_sync)
    version = db_commands.add_parser("version", help="Show each schema's revision")
    version.set_defaults(func=db_version)
    categories: dict[str, Any] = {}
    for alias, command in _installed_commands():
        if command.category not in categories:
            parser = subparsers.add_parser(command.category, help=f"{command.category} commands")
            categories[command.category] = parser.add_subparsers(dest="action")
        parser = categories[command.category].add_parser(command.name, help=command.help)
        command.add_arguments(parser)
        parser.set_defaults(func=functools.partial(run_extension_command, alias, command))


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
            sys.exit(f"usage: {PROG} [--config-file FILE] COMMAND ... (see --help)")
        database.check_driver(host_conf.database_connection(conf))
        func(conf)
