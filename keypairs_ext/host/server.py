"""Serve the host with cheroot, a multi-threaded production WSGI server.

One process runs the compute API and (when enabled) the metadata service,
each on its own port.  With ``[api] workers`` above one, that many processes
share the ports through SO_REUSEPORT; the parent only supervises.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
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


# glibc mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def limit_malloc_arenas() -> None:
    """Keep glibc from holding freed memory in one arena per request thread.

    With 16 threads, glibc's default gives each its own arena and, after a
    large free (Argon2id's 8 MiB for a PuTTY passphrase), raises its mmap
    threshold so that later large blocks stay in those arenas: a worker grew
    from 97 to 224 MB that way.  Two arenas and a fixed threshold keep it
    near 92 MB.  Other C libraries are left as they are.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_ARENA_MAX, 2)
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):
        LOG.debug("mallopt is not available; malloc left as it is")


def freeze_startup_objects() -> None:
    """Leave what start-up made out of every later garbage collection.

    Modules, the host, compiled schemas and statements live as long as the
    process.  Without this, each full collection walks all of them again: a
    pause of tens of milliseconds that landed on one request in a hundred
    of a long list.  (The same call gunicorn users make in ``post_fork``.)
    """
    gc.collect()
    gc.freeze()


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
    freeze_startup_objects()
    for server in servers:
        server.prepare()
        LOG.info("%s listening on %s:%s", server.server_name, *server.bind_addr[:2])
        threading.Thread(target=server.serve, name=server.server_name, daemon=True).start()
    stopping.wait()
    for server in servers:
        server.stop()


def run(conf: cfg.ConfigOpts, build_host: Callable[[], Any]) -> None:
    limit_malloc_arenas()
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
