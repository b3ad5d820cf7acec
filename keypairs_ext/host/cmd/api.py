"""``keypairs-api``: serve the compute API (and the metadata service)."""

from __future__ import annotations

import errno
import os
import socket
import sys

from oslo_log import log as logging

from keypairs_ext.host import app, auth, database, loader, server
from keypairs_ext.host import conf as host_conf
from keypairs_ext.host.cmd import failures

PROG = "keypairs-api"
DESCRIPTION = (
    "Serve the OpenStack Compute-compatible API with the os-keypairs "
    "extension, and the instance metadata service. Options other than those "
    "below are read from the configuration file (sample: keypairs.conf.sample)."
)


def _default(opts: list, name: str, sample: bool = False):
    opt = next(o for o in opts if o.name == name)
    return opt.sample_default if sample else opt.default


def _epilog() -> str:
    api, metadata = host_conf.api_opts, host_conf.metadata_opts
    return (
        f"Defaults: the compute API on {_default(api, 'bind_host')}:"
        f"{_default(api, 'bind_port')} ([api] bind_host, bind_port), the metadata "
        f"service on {_default(metadata, 'bind_host')}:{_default(metadata, 'bind_port')} "
        f"([metadata] bind_host, bind_port), SQLite under "
        f"{_default(host_conf.default_opts, 'state_path', sample=True)} ([DEFAULT] "
        f"state_path; [database] connection for PostgreSQL or MySQL), auth "
        f"{_default(api, 'auth_strategy')} ([api] auth_strategy)."
    )


def check_addresses(conf) -> None:
    """Fail with one line now if a port is taken, before anything starts."""
    wanted = [("api", conf.api.bind_host, conf.api.bind_port)]
    if conf.metadata.enabled:
        wanted.append(("metadata", conf.metadata.bind_host, conf.metadata.bind_port))
    for group, host, port in wanted:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                reason = (
                    "is already in use (stop what listens there or change"
                    if exc.errno == errno.EADDRINUSE
                    else f"cannot be listened on: {exc.strerror} (change"
                )
                raise failures.AddressInUse(
                    f"{host}:{port} {reason} [{group}] bind_host/bind_port)"
                ) from None


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
    with failures.one_line(PROG):
        conf = app.make_conf_for_service(
            sys.argv[1:] if argv is None else argv,
            prog=PROG,
            description=DESCRIPTION,
            epilog=_epilog(),
            version=failures.version(),
        )
        auth.check_bind(conf, conf.api.bind_host)
        database.check_driver(host_conf.database_connection(conf))
        check_addresses(conf)
        # The embedded default needs no operator step: create or upgrade here.
        _migrate_in_child(conf)
        host = app.build(conf)
    log = logging.getLogger("keypairs_ext")
    log.info(
        "Serving extensions %s with auth %s",
        ", ".join(e.alias for e in host.extensions) or "none",
        conf.api.auth_strategy,
    )
    server.run(conf, host)


if __name__ == "__main__":
    main()
