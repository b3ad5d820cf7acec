"""Configuration options of the reference host."""

from __future__ import annotations

import os

from oslo_config import cfg
from oslo_db import options as db_options
from oslo_middleware import http_proxy_to_wsgi

from keypairs_ext.host import notifications

MIN_VERSION = "2.1"
MAX_VERSION = "2.92"

default_opts: list[cfg.Opt] = [
    cfg.StrOpt(
        "state_path",
        default=os.path.join(os.path.expanduser("~"), ".local", "state", "keypairs-api"),
        sample_default="~/.local/state/keypairs-api",
        help="Directory for the service's state: the default SQLite database lives here.",
    ),
]

api_opts: list[cfg.Opt] = [
    cfg.HostAddressOpt(
        "bind_host", default="127.0.0.1", help="Address the compute API listens on."
    ),
    cfg.PortOpt("bind_port", default=8774, help="Port the compute API listens on."),
    cfg.StrOpt(
        "auth_strategy",
        default="noauth2",
        choices=[
            ("noauth2", "Trust a 'user:project' token; for tests and development."),
            ("keystone", "Validate tokens with keystonemiddleware auth_token."),
        ],
        help="How requests are authenticated.",
    ),
    cfg.BoolOpt(
        "allow_noauth2_on_public_address",
        default=False,
        help="Let noauth2 serve on a non-loopback address. noauth2 trusts any "
        "token, so the API refuses to start that way unless this is set.",
    ),
    cfg.ListOpt(
        "enabled_extensions",
        default=["os-keypairs"],
        help="Aliases of the extensions to load, in the order their hooks run. "
        "An alias that is not installed, or fails to load, stops the service.",
    ),
    cfg.IntOpt(
        "max_limit",
        default=1000,
        min=1,
        help="The most items one page of a paged list holds.",
    ),
    cfg.IntOpt(
        "max_request_body_size",
        default=114688,
        min=1,
        help="Largest request body accepted, in bytes; larger is 413.",
    ),
    cfg.StrOpt(
        "max_microversion",
        default=MAX_VERSION,
        regex=r"^2\.(?:[1-9]|[1-8][0-9]|9[0-2])$",
        help="Highest compute microversion served (2.1 to 2.92). 'latest' "
        "resolves to it and version discovery reports it.",
    ),
    cfg.IntOpt(
        "workers",
        default=1,
        min=1,
        help="Processes serving the API (keypairs-api); each runs 'threads' threads.",
    ),
    cfg.IntOpt("threads", default=16, min=1, help="Request threads per worker process."),
    cfg.IntOpt(
        "backlog",
        default=2048,
        min=1,
        help="Connections the kernel queues on each port before a worker "
        "accepts them (gunicorn's default). A burst of new connections larger "
        "than this is reset. The kernel caps it at net.core.somaxconn.",
    ),
    cfg.IntOpt(
        "keepalive_timeout",
        default=60,
        min=1,
        help="Seconds an idle keep-alive connection stays open before the "
        "server closes it. A connection waiting for its answer is never idle.",
    ),
    cfg.IntOpt(
        "graceful_shutdown_timeout",
        default=30,
        min=1,
        help="On SIGTERM the ports close at once and each worker has this many "
        "seconds to answer the requests it has received; then it is killed. "
        "SIGINT stops at once.",
    ),
    cfg.IntOpt(
        "max_connections",
        default=1000,
        min=10,
        help="Open connections one worker process holds (idle and slow ones "
        "included); beyond it, new connections wait in the backlog.",
    ),
]

metadata_opts: list[cfg.Opt] = [
    cfg.BoolOpt("enabled", default=True, help="Serve the instance metadata service."),
    cfg.HostAddressOpt(
        "bind_host", default="127.0.0.1", help="Address the metadata service listens on."
    ),
    cfg.PortOpt("bind_port", default=8775, help="Port of the metadata service."),
    cfg.StrOpt(
        "shared_secret",
        secret=True,
        default="",
        help="Secret of the X-Instance-ID-Signature HMAC, shared with the "
        "metadata proxy. An empty secret refuses every metadata request.",
    ),
]


def _default_connection(conf: cfg.ConfigOpts) -> str:
    return "sqlite:///" + os.path.join(conf.state_path, "keypairs.sqlite")


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(default_opts)
    conf.register_opts(api_opts, group="api")
    conf.register_opts(metadata_opts, group="metadata")
    conf.register_opts(http_proxy_to_wsgi.OPTS, group="oslo_middleware")
    notifications.register_opts(conf)
    db_options.set_defaults(conf)


def register_keystone_opts(conf: cfg.ConfigOpts) -> None:
    """``[keystone_authtoken]``: registered only when keystone auth is used, so
    that a noauth2 process never loads keystonemiddleware and its clients."""
    from keystonemiddleware import auth_token

    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)


def database_connection(conf: cfg.ConfigOpts) -> str:
    """The configured database URL, or SQLite under state_path."""
    return conf.database.connection or _default_connection(conf)


def set_defaults(conf: cfg.ConfigOpts | None = None) -> None:
    """oslo.config.opts.defaults hook for the sample generator."""
    db_options.set_defaults(conf or cfg.CONF)
    notifications.set_bus_defaults()


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    from keystonemiddleware import auth_token
    from oslo_policy import opts as policy_opts

    opts: list[tuple[str | None, list[cfg.Opt]]] = [
        ("DEFAULT", default_opts),
        ("api", api_opts),
        ("metadata", metadata_opts),
        ("database", db_options.database_opts),
        ("oslo_middleware", list(http_proxy_to_wsgi.OPTS)),
        *notifications.list_opts(),
    ]
    opts.extend(policy_opts.list_opts())
    opts.extend(auth_token.list_opts())
    return opts
