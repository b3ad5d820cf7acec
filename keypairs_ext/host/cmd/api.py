"""``keypairs-api``: serve the compute API (and the metadata service)."""

from __future__ import annotations

import sys

from oslo_log import log as logging

from keypairs_ext.host import app, auth, loader, server
from keypairs_ext.host.db import migrate


def main(argv: list[str] | None = None) -> None:
    conf = app.make_conf_for_service(sys.argv[1:] if argv is None else argv)
    log = logging.getLogger("keypairs_ext")
    try:
        auth.check_bind(conf, conf.api.bind_host)
        host = app.build(conf)
    except (loader.ExtensionLoadError, auth.InsecureBind) as exc:
        log.error("%s", exc)
        sys.exit(f"keypairs-api: {exc}")
    # The embedded default needs no operator step: create or upgrade here.
    migrate.sync(host.database.writer.get_engine(), [type(e) for e in host.extensions])
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
