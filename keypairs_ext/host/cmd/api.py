"""``keypairs-api``: serve the compute API (and the metadata service)."""

from __future__ import annotations

import os
import sys

from oslo_log import log as logging

from keypairs_ext.host import app, auth, loader, server


def _migrate_in_child(conf) -> None:
    """Run the migrations in a child process that exits afterwards.

    Alembic and its templates are needed once, at start; loaded in the
    serving process they would stay resident in every worker.
    """
    classes = loader.select(loader.find_installed(), conf.api.enabled_extensions)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            from keypairs_ext.host import database
            from keypairs_ext.host.db import migrate

            for cls in classes:
                cls.register_opts(conf)
            migrate.sync(database.writer_engine(database.create_facade(conf)), classes)
            status = 0
        except Exception:
            logging.getLogger("keypairs_ext").exception("Database migration failed")
        finally:
            os._exit(status)
    _, code = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(code) != 0:
        sys.exit("keypairs-api: the database migration failed (see the log)")


def main(argv: list[str] | None = None) -> None:
    conf = app.make_conf_for_service(sys.argv[1:] if argv is None else argv)
    log = logging.getLogger("keypairs_ext")
    try:
        auth.check_bind(conf, conf.api.bind_host)
        # The embedded default needs no operator step: create or upgrade here.
        _migrate_in_child(conf)
        host = app.build(conf)
    except (loader.ExtensionLoadError, auth.InsecureBind) as exc:
        log.error("%s", exc)
        sys.exit(f"keypairs-api: {exc}")
    log.info(
        "Serving extensions %s with auth %s",
        ", ".join(e.alias for e in host.extensions) or "none",
        conf.api.auth_strategy,
    )
    first = [host]

    def build_host():
        # The parent's host serves the first worker; others build their own.
        return first.pop() if first else app.build(conf)

    server.run(conf, build_host)


if __name__ == "__main__":
    main()
