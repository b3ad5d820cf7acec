"""Assembly: a host from a ConfigOpts.

``build`` wires the database, the policy enforcer, the extensions (through
the loader), the host's own routes and the middleware of the ecosystem
around the compute API (request ids, proxy headers, and keystonemiddleware
when configured).  ``make_conf`` makes that ConfigOpts.  The request flow
itself is :mod:`keypairs_ext.host.compute`; errors map to faults in
:mod:`keypairs_ext.host.faults`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from keypairs_ext.host import auth, database, loader, logformat, notifications, policies, validation
from keypairs_ext.host import conf as host_conf
from keypairs_ext.host.compute import ComputeAPI
from keypairs_ext.host.contract import Extension, HostServices, Notifier, Version
from keypairs_ext.host.extensions_api import ExtensionsController
from keypairs_ext.host.middleware import RequestEdge
from keypairs_ext.host.servers import ServersController


@dataclasses.dataclass
class Host:
    """A built host: the WSGI apps and what they were built from."""

    conf: cfg.ConfigOpts
    api: Any
    metadata: Any
    compute: ComputeAPI
    extensions: list[Extension]
    database: Any
    autocommit: Any = None
    notifier: Any = None

    def close(self) -> None:
        """Close the database connections and the message bus this host holds."""
        if self.notifier is not None:
            self.notifier.close()
        self.database.writer.get_engine().dispose()
        if self.autocommit is not None:
            self.autocommit.dispose()


def _services(
    conf: cfg.ConfigOpts,
    facade: Any,
    enforcer: Any,
    autocommit: Any = None,
    notifier: Any = None,
) -> HostServices:
    return HostServices(
        conf=conf,
        database=facade,
        policy=enforcer,
        max_version=Version.parse(conf.api.max_microversion),
        max_limit=conf.api.max_limit,
        validate=validation.validate,
        autocommit=autocommit,
        notifier=notifier if notifier is not None else Notifier(),
    )


def load_extensions(
    conf: cfg.ConfigOpts,
    facade: Any,
    enforcer: Any,
    autocommit: Any = None,
    notifier: Any = None,
) -> tuple[list[Extension], dict[str, str]]:
    installed = loader.find_installed()
    classes = loader.select(installed, conf.api.enabled_extensions)
    for cls in classes:
        cls.register_opts(conf)
        enforcer.register_defaults(list(cls.list_rules()))
    services = _services(conf, facade, enforcer, autocommit, notifier)
    extensions = [loader.instantiate(cls, services) for cls in classes]
    disabled = loader.disabled_server_properties(installed, conf.api.enabled_extensions)
    return extensions, disabled


def build(conf: cfg.ConfigOpts) -> Host:
    """Assemble the host for ``conf`` (options must be registered and parsed)."""
    facade = database.create_facade(conf)
    autocommit = database.create_autocommit_engine(conf)
    enforcer = policies.build_enforcer(conf)
    notifier = notifications.build_notifier(conf)
    extensions, disabled = load_extensions(conf, facade, enforcer, autocommit, notifier)
    servers = ServersController(facade, enforcer, extensions, validation.validate, disabled)
    routes = ExtensionsController(extensions).routes() + servers.routes()
    for ext in extensions:
        routes.extend(ext.routes())
    strategy = auth.strategy_for(conf)
    compute = ComputeAPI(conf, strategy, extensions, routes, notifier)
    api = strategy.wrap(compute, conf)
    api = RequestEdge(api, conf)
    from keypairs_ext.host.metadata import MetadataApp

    metadata = MetadataApp(conf, facade, extensions)
    return Host(conf, api, metadata, compute, extensions, facade, autocommit, notifier)


def make_conf(
    args: Sequence[str] = (),
    default_config_files: Sequence[str] | None = None,
    cli_opts: Sequence[cfg.Opt] = (),
    prog: str = "keypairs-api",
    **parser: Any,
) -> cfg.ConfigOpts:
    """A fresh ConfigOpts with the host's options, parsed from ``args``.

    ``parser`` passes ``description``, ``epilog`` and ``version`` on to the
    command line's help.
    """
    conf = cfg.ConfigOpts()
    host_conf.register_opts(conf)
    if cli_opts:
        conf.register_cli_opts(list(cli_opts))
    conf(
        list(args),
        project="keypairs",
        prog=prog,
        default_config_files=list(default_config_files or []),
        **parser,
    )
    return conf


def make_conf_for_service(
    args: Sequence[str], prog: str = "keypairs-api", **parser: Any
) -> cfg.ConfigOpts:
    """Like make_conf, with oslo.log set up from the same configuration."""
    from oslo_log import log as oslo_logging

    conf = cfg.ConfigOpts()
    host_conf.register_opts(conf)
    oslo_logging.register_options(conf)
    conf(list(args), project="keypairs", prog=prog, default_config_files=[], **parser)
    oslo_logging.setup(conf, "keypairs")
    logformat.install()
    return conf
