"""Serve the host with cheroot, a multi-threaded production WSGI server.

One process runs the compute API and (when enabled) the metadata service,
each on its own port.  With ``[api] workers`` above one, that many processes
share the ports through SO_REUSEPORT; the parent only supervises.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from cheroot import wsgi
from oslo_config import cfg

LOG = logging.getLogger(__name__)


def make_servers(conf: cfg.ConfigOpts, host: Any, reuse_port: bool) -> list[wsgi.Server]:
    servers = [
        wsgi.Server(
            (conf.api.bind_host, conf.api.bind_port),
            host.api,
            numthreads=conf.api.threads,
            server_name="keypairs-api",
            reuse_port=reuse_port,
        )
    ]
    if conf.metadata.enabled:
        servers.append(
            wsgi.Server(
                (conf.metadata.bind_host, conf.metadata.bind_port),
                host.metadata,
                numthreads=conf.api.threads,
                server_name="keypairs-metadata",
                reuse_port=reuse_port,
            )
        )
    return servers


def run_servers(servers: list[wsgi.Server]) -> None:
    """Serve until SIGTERM or SIGINT."""
    stopping = threading.Event()

    def stop(*_args: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for server in servers:
        server.prepare()
        LOG.info("%s listening on %s:%s", server.server_name, *server.bind_addr[:2])
        threading.Thread(target=server.serve, name=server.server_name, daemon=True).start()
    stopping.wait()
    for server in servers:
        server.stop()


def run(conf: cfg.ConfigOpts, build_host: Callable[[], Any]) -> None:
    workers = conf.api.workers
    if workers == 1:
        run_servers(make_servers(conf, build_host(), reuse_port=False))
        return
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                run_servers(make_servers(conf, build_host(), reuse_port=True))
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    sys.exit(status)
