"""``keypairs-manage``: operator commands (``db sync``, ``db version``)."""

from __future__ import annotations

import sys

from oslo_config import cfg

from keypairs_ext.host import app, database, loader
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


command_opt = cfg.SubCommandOpt("category", title="Commands", handler=_add_commands)


def main(argv: list[str] | None = None) -> None:
    conf = app.make_conf(sys.argv[1:] if argv is None else argv, cli_opts=[command_opt])
    func = getattr(conf.category, "func", None)
    if func is None:
        sys.exit("usage: keypairs-manage [--config-file FILE] db {sync,version}")
    try:
        func(conf)
    except loader.ExtensionLoadError as exc:
        sys.exit(f"keypairs-manage: {exc}")


if __name__ == "__main__":
    main()
