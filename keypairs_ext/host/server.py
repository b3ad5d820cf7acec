"""Serve the host: gunicorn supervises the processes, waitress their connections.

gunicorn's arbiter owns the listening sockets (``[api] backlog``), starts
``[api] workers`` processes, replaces one that dies, and on SIGTERM closes
the sockets and gives the workers ``[api] graceful_shutdown_timeout`` to
finish.  Inside each worker, waitress reads every request whole in its
event loop before a thread sees it, so clients that send slowly hold no
thread; idle keep-alive connections close after ``[api] keepalive_timeout``.
One process serves both the compute API and the metadata service.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import time
from typing import Any, NamedTuple

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker
from oslo_config import cfg
from waitress import wasyncore
from waitress.server import create_server

LOG = logging.getLogger(__name__)

# glibc mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

# How long a stopping worker keeps an idle connection open, for a request
# its client may be sending at that moment.
STOP_LINGER = 1.0
# How often the event loop wakes to check the worker's state, in seconds.
LOOP_TICK = 0.5
# Bodies are read whole before the application sees them; above this the
# connection is refused (the application's own, lower limit answers 413).
MAX_BUFFERED_BODY = 16 * 1024 * 1024


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
    of a long list.  Done before the workers fork, it also keeps those
    pages shared between them.
    """
    gc.collect()
    gc.freeze()


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ServiceLogger(glogging.Logger):
    """gunicorn's messages go through the service's logging (oslo.log)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True


class Listener(NamedTuple):
    address: str  # host:port, as gunicorn's bind setting takes it
    app: Any
    ident: str  # the Server header


class ServedApps(BaseApplication):
    """WSGI apps, each on its own address, under gunicorn's arbiter."""

    def __init__(self, listeners: list[Listener], settings: dict[str, Any]) -> None:
        self.listeners = listeners
        self.settings = settings
        super().__init__(prog=listeners[0].ident)

    def load_config(self) -> None:
        settings = {
            "bind": [listener.address for listener in self.listeners],
            "worker_class": f"{__name__}.WaitressWorker",
            "logger_class": f"{__name__}.ServiceLogger",
            "preload_app": True,
            "proc_name": self.listeners[0].ident,
            **self.settings,
        }
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 24's control socket: one path per user, shared by every
            # instance; the host is controlled by signals.
            settings["control_socket_disable"] = True
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self.listeners[0].app


def settings_for(conf: cfg.ConfigOpts) -> dict[str, Any]:
    """gunicorn's settings from the host's ``[api]`` options."""
    api = conf.api
    return {
        "workers": api.workers,
        "threads": api.threads,
        "backlog": api.backlog,
        "keepalive": api.keepalive_timeout,
        "graceful_timeout": api.graceful_shutdown_timeout,
        "worker_connections": api.max_connections,
    }


def listeners_for(conf: cfg.ConfigOpts, host: Any) -> list[Listener]:
    listeners = [
        Listener(_address(conf.api.bind_host, conf.api.bind_port), host.api, "keypairs-api")
    ]
    if conf.metadata.enabled:
        address = _address(conf.metadata.bind_host, conf.metadata.bind_port)
        listeners.append(Listener(address, host.metadata, "keypairs-metadata"))
    return listeners


class WaitressWorker(Worker):
    """A gunicorn worker whose connections waitress serves."""

    def run(self) -> None:
        socket_map: dict[int, Any] = {}
        servers = [
            create_server(
                app,
                map=socket_map,
                sockets=[listener.sock],
                threads=self.cfg.threads,
                backlog=self.cfg.backlog,
                connection_limit=self.cfg.worker_connections,
                channel_timeout=self.cfg.keepalive,
                cleanup_interval=1,
                max_request_body_size=MAX_BUFFERED_BODY,
                ident=ident,
                asyncore_use_poll=True,
            )
            for listener, (_, app, ident) in zip(self.sockets, self.app.listeners, strict=True)
        ]
        while self.alive and self.ppid == os.getppid():
            self.notify()
            wasyncore.loop(timeout=LOOP_TICK, map=socket_map, use_poll=True, count=1)
        self._drain(servers, socket_map)

    def _drain(self, servers: list[Any], socket_map: dict[int, Any]) -> None:
        """Accept nothing more; answer every request already received."""
        for server in servers:
            _accept_waiting(server)
            wasyncore.dispatcher.close(server)  # the listening socket only
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while any([_close_idle(server) for server in servers]):
            if time.monotonic() > deadline:
                self.log.warning("Graceful shutdown timed out with requests unanswered")
                break
            self.notify()
            wasyncore.loop(timeout=0.1, map=socket_map, use_poll=True, count=1)
        for server in servers:
            server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(socket_map)


def _accept_waiting(server: Any) -> None:
    """Accept the connections the kernel has queued: their clients have
    sent their requests, which closing the port would reset."""
    while len(server._map) < server.adj.connection_limit:
        open_before = len(server.active_channels)
        server.handle_accept()
        if len(server.active_channels) == open_before:
            return  # none waiting (or a failed accept, which waitress logs)


def _close_idle(server: Any) -> bool:
    """Close ``server``'s connections idle for STOP_LINGER; any left open?"""
    now = time.time()
    for channel in list(server.active_channels.values()):
        idle = not channel.requests and channel.request is None and not channel.total_outbufs_len
        if idle and now - channel.last_activity >= STOP_LINGER:
            channel.will_close = True
    return bool(server.active_channels)


def serve(listeners: list[Listener], settings: dict[str, Any]) -> None:
    """Serve until SIGTERM (graceful) or SIGINT (quick); exits the process."""
    limit_malloc_arenas()
    # Every request thread saturated is normal under load, not a warning.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    freeze_startup_objects()
    ServedApps(listeners, settings).run()


def run(conf: cfg.ConfigOpts, host: Any) -> None:
    """Serve the host as ``conf`` says."""
    serve(listeners_for(conf, host), settings_for(conf))
