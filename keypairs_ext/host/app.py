"""The compute API application: routing, negotiation, auth, faults.

``build`` assembles a host from a ConfigOpts: database, policy, extensions
(through the loader), routes, and the middleware of the ecosystem around it
(request ids, proxy headers, and keystonemiddleware when configured).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

import sqlalchemy as sa
import webob
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_db import exception as db_exc
from oslo_middleware import http_proxy_to_wsgi, request_id, sizelimit
from oslo_policy import policy as oslo_policy

from keypairs_ext.host import (
    auth,
    database,
    faults,
    loader,
    microversion,
    policies,
    serialize,
    validation,
    versions,
)
from keypairs_ext.host import conf as host_conf
from keypairs_ext.host.contract import (
    APIError,
    ApiRequest,
    ApiResponse,
    Extension,
    HostServices,
    Route,
    Version,
)
from keypairs_ext.host.extensions_api import ExtensionsController
from keypairs_ext.host.reply import Reply, reply
from keypairs_ext.host.router import MethodNotAllowed, Router
from keypairs_ext.host.servers import ServersController

LOG = logging.getLogger(__name__)

# (prefix, legacy): where every route is mounted
MOUNTS = (
    ("/v2.1", False),
    ("/v2.1/{project_id}", False),
    ("/v2/{project_id}", True),
    ("/v1.1/{project_id}", True),
)
DISCOVERY = {"": "root", "/": "root", "/v2.1": "v21", "/v2.1/": "v21", "/v2": "v20", "/v2/": "v20"}


@dataclasses.dataclass(frozen=True)
class Mounted:
    route: Route
    legacy: bool


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

    def close(self) -> None:
        """Close the database connections this host holds."""
        self.database.writer.get_engine().dispose()
        if self.autocommit is not None:
            self.autocommit.dispose()


class ComputeAPI:
    """The WSGI application behind the middleware."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        strategy: Any,
        extensions: Sequence[Extension],
        routes: Sequence[Route],
    ) -> None:
        self.conf = conf
        self.max_version = Version.parse(conf.api.max_microversion)
        self.max_body = conf.api.max_request_body_size
        self.strategy = strategy
        self.extensions = list(extensions)
        self.contracts = [
            (
                ext.contract_name,
                Version.parse(ext.contract_min_version or "1.0"),
                Version.parse(ext.contract_max_version or "1.0"),
            )
            for ext in self.extensions
            if ext.contract_name
        ]
        self.router = Router()
        # Routes of an extension contract, consulted only for requests that
        # opted in to it, so that everyone else sees the compatible API.
        self.contract_routers: dict[str, Router] = {}
        for route in routes:
            router = self.router
            if route.contract:
                router = self.contract_routers.setdefault(route.contract, Router())
            for prefix, legacy in MOUNTS:
                if (route.legacy_only and not legacy) or (route.contract and legacy):
                    continue
                router.add(route.method, prefix + route.path, Mounted(route, legacy))

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = webob.Request(environ)
        try:
            response = self._handle(request)
        except Exception:  # the last line of defence: never a traceback
            # PATH_INFO as received: request.path would decode it, and may not.
            LOG.exception(
                "Unexpected error serving %s %r", request.method, environ.get("PATH_INFO")
            )
            response = self._fault(500, "Unexpected API Error. Please report this.", False)
        return response(environ, start_response)

    # --- the flow -----------------------------------------------------------

    def _handle(self, request: webob.Request) -> Reply | webob.Response:
        try:
            path = request.path_info
            _ = request.script_name  # decoded later for URLs: check it now
        except UnicodeDecodeError:
            return self._fault(400, "Malformed request URL: the path is not valid UTF-8.", False)
        discovery = DISCOVERY.get(path)
        if discovery is not None:
            return self._discovery(request, discovery)
        legacy = path.startswith(("/v2/", "/v1.1/"))
        version = microversion.LEGACY_VERSION
        extra_headers: dict[str, str] = {}
        media = serialize.choose_response_type(request.environ.get("HTTP_ACCEPT"), legacy)
        try:
            # The legacy endpoints speak 2.0 only: no extension contracts there.
            contract_versions: dict[str, Version] = {}
            if not legacy:
                version_headers = microversion.version_headers(request.headers)
                version = microversion.negotiate(version_headers, self.max_version)
                extra_headers = microversion.response_headers(version)
                contract_versions = self._contract_versions(version_headers)
            if contract_versions:
                extra_headers[microversion.STANDARD_HEADER] += "".join(
                    f", {name} {v}" for name, v in contract_versions.items()
                )
            context = self.strategy.context(request)
            match = self._match(request.method, path, contract_versions)
            if match is None:
                return self._fault(
                    404, "The resource could not be found.", legacy, media, extra_headers
                )
            mounted: Mounted = match.entry.target
            params = match.params
            project_id = params.pop("project_id", None)
            if project_id is not None and project_id != context.project_id:
                return self._fault(
                    400,
                    f"Malformed request URL: URL's project_id '{project_id}' doesn't "
                    f"match Context's project_id '{context.project_id}'",
                    legacy,
                    media,
                    extra_headers,
                )
            api_request = ApiRequest(
                context=context,
                version=version,
                legacy=legacy,
                path_params=params,
                query=parse_qsl(request.query_string, keep_blank_values=True),
                body=self._body(request, legacy),
                url=request.path_url,
                query_string=request.query_string,
                extension_versions=contract_versions,
            )
            result = mounted.route.handler(api_request)
            return self._render(result, media, extra_headers, mounted.route)
        except auth.Handshake as handshake:
            return Reply(204, list(handshake.headers.items()))
        except auth.Unauthorized:
            return self._fault(
                401, "The request you have made requires authentication.", legacy, media
            )
        except MethodNotAllowed as exc:
            response = self._fault(
                405,
                "The method specified is not allowed for this resource.",
                legacy,
                media,
                extra_headers,
            )
            response.add_header("Allow", ", ".join(exc.allowed))
            return response
        except faults.HTTPFault as exc:
            return self._fault(exc.status, exc.message, legacy, media, extra_headers)
        except serialize.UnsupportedMediaType as exc:
            return self._fault(415, str(exc), legacy, media, extra_headers)
        except oslo_policy.PolicyNotAuthorized as exc:
            rule = str(exc).removesuffix(" is disallowed by policy")
            return self._fault(
                403, f"Policy doesn't allow {rule} to be performed.", legacy, media, extra_headers
            )
        except APIError as exc:
            return self._fault(faults.status_of(exc), str(exc), legacy, media, extra_headers)
        except (db_exc.DBError, sa.exc.SQLAlchemyError) as exc:
            if not database.unavailable(exc):
                raise
            LOG.warning("Database unavailable: %s", database.reason(exc))
            return self._fault(
                503, "The database is unavailable; try again shortly.", legacy, media, extra_headers
            )

    def _match(self, method: str, path: str, contracts: dict[str, Version]) -> Any:
        for name in contracts:
            router = self.contract_routers.get(name)
            if router is not None:
                try:
                    match = router.match(method, path)
                except MethodNotAllowed:
                    match = None
                if match is not None:
                    return match
        return self.router.match(method, path)

    def _contract_versions(self, headers: dict[str, str]) -> dict[str, Version]:
        found = {}
        for name, low, high in self.contracts:
            version = microversion.negotiate_contract(headers, name, low, high)
            if version is not None:
                found[name] = version
        return found

    def _body(self, request: webob.Request, legacy: bool) -> Any:
        if request.content_length is not None and request.content_length > self.max_body:
            raise faults.HTTPFault(413, "Request is too large.")
        reader = sizelimit.LimitingReader(request.body_file_raw, self.max_body)
        try:
            raw = reader.read() if request.content_length or request.is_body_readable else b""
        except webob.exc.HTTPRequestEntityTooLarge as exc:
            raise faults.HTTPFault(413, "Request is too large.") from exc
        return serialize.decode_body(raw, request.content_type, legacy)

    # --- responses ----------------------------------------------------------

    def _render(
        self, result: ApiResponse, media: str, headers: dict[str, str], route: Route
    ) -> Reply:
        body = None
        if result.body is not None:
            body = serialize.encode(result.body, media, route.xml_list_item)
        return reply(result.status, media, body, headers, result.headers)

    def _fault(
        self,
        status: int,
        message: str,
        legacy: bool,
        media: str = serialize.JSON,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        body = serialize.encode(faults.fault_body(status, message), media)
        return reply(status, media, body, headers or {})

    def _discovery(self, request: webob.Request, which: str) -> webob.Response:
        if request.method not in ("GET", "HEAD"):
            return self._fault(405, "The method specified is not allowed for this resource.", False)
        base = request.host_url + request.script_name
        if which == "root":
            body = versions.root(base, self.max_version)
        elif which == "v21":
            body = versions.v21(base, self.max_version)
        else:
            body = versions.v20(base)
        response = webob.Response(content_type="application/json", charset="UTF-8")
        response.body = json.dumps(body).encode()
        return response

    def route_table(self) -> list[tuple[str, str]]:
        """Every (method, path template) this API serves, discovery included."""
        discovery = [("GET", "/"), ("GET", "/v2.1/"), ("GET", "/v2/")]
        table = discovery + self.router.table()
        for router in self.contract_routers.values():
            table += router.table()
        return table


class RequestEdge:
    """oslo.middleware's HTTPProxyToWSGI then RequestId, as one plain WSGI layer.

    Each of those middlewares wraps the request in a webob Request, re-wraps
    the response in a webob Response and inspects its own signature on every
    request; stacked, that cost more than the rest of a keypair show.  This
    layer runs their own request-side code on the environ (proxy headers,
    then the global and the new request id) and adds the
    ``x-openstack-request-id`` response header unless the app set one.
    """

    def __init__(self, app: Any, conf: cfg.ConfigOpts) -> None:
        self.app = app
        self._proxy = http_proxy_to_wsgi.HTTPProxyToWSGI(None, conf)
        self._request_id = request_id.RequestId(None)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = webob.Request(environ)
        self._proxy.process_request(request)
        self._request_id.set_global_req_id(request)
        req_id = oslo_context.generate_request_id()
        environ[request_id.ENV_REQUEST_ID] = req_id
        header = request_id.HTTP_RESP_HEADER_REQUEST_ID

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            if not any(name.lower() == header for name, _ in headers):
                headers = [*headers, (header, req_id)]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _services(
    conf: cfg.ConfigOpts, facade: Any, enforcer: Any, autocommit: Any = None
) -> HostServices:
    return HostServices(
        conf=conf,
        database=facade,
        policy=enforcer,
        max_version=Version.parse(conf.api.max_microversion),
        max_limit=conf.api.max_limit,
        validate=validation.validate,
        autocommit=autocommit,
    )


def load_extensions(
    conf: cfg.ConfigOpts, facade: Any, enforcer: Any, autocommit: Any = None
) -> tuple[list[Extension], dict[str, str]]:
    installed = loader.find_installed()
    classes = loader.select(installed, conf.api.enabled_extensions)
    for cls in classes:
        cls.register_opts(conf)
        enforcer.register_defaults(list(cls.list_rules()))
    services = _services(conf, facade, enforcer, autocommit)
    extensions = [loader.instantiate(cls, services) for cls in classes]
    disabled = loader.disabled_server_properties(installed, conf.api.enabled_extensions)
    return extensions, disabled


def build(conf: cfg.ConfigOpts) -> Host:
    """Assemble the host for ``conf`` (options must be registered and parsed)."""
    facade = database.create_facade(conf)
    autocommit = database.create_autocommit_engine(conf)
    enforcer = policies.build_enforcer(conf)
    extensions, disabled = load_extensions(conf, facade, enforcer, autocommit)
    servers = ServersController(facade, enforcer, extensions, validation.validate, disabled)
    routes = ExtensionsController(extensions).routes() + servers.routes()
    for ext in extensions:
        routes.extend(ext.routes())
    strategy = auth.strategy_for(conf)
    compute = ComputeAPI(conf, strategy, extensions, routes)
    api = strategy.wrap(compute, conf)
    api = RequestEdge(api, conf)
    from keypairs_ext.host.metadata import MetadataApp

    metadata = MetadataApp(conf, facade, extensions)
    return Host(conf, api, metadata, compute, extensions, facade, autocommit)


def make_conf(
    args: Sequence[str] = (),
    default_config_files: Sequence[str] | None = None,
    cli_opts: Sequence[cfg.Opt] = (),
) -> cfg.ConfigOpts:
    """A fresh ConfigOpts with the host's options, parsed from ``args``."""
    conf = cfg.ConfigOpts()
    host_conf.register_opts(conf)
    if cli_opts:
        conf.register_cli_opts(list(cli_opts))
    conf(
        list(args),
        project="keypairs",
        prog="keypairs-api",
        default_config_files=list(default_config_files or []),
    )
    return conf


def make_conf_for_service(args: Sequence[str]) -> cfg.ConfigOpts:
    """Like make_conf, with oslo.log set up from the same configuration."""
    from oslo_log import log as oslo_logging

    conf = cfg.ConfigOpts()
    host_conf.register_opts(conf)
    oslo_logging.register_options(conf)
    conf(list(args), project="keypairs", prog="keypairs-api", default_config_files=[])
    oslo_logging.setup(conf, "keypairs")
    return conf
