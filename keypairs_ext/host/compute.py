"""The compute API application: negotiate, route, call the handler, render.

One request flows through :meth:`ComputeAPI._dispatch`: the compute
microversion and any extension contract versions are negotiated, the caller
is authenticated, the route is matched and its handler called with an
:class:`~keypairs_ext.host.contract.ApiRequest`.  Whatever error ends the
request is answered through the one table in :mod:`keypairs_ext.host.faults`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import webob
from oslo_config import cfg
from oslo_middleware import sizelimit
from webob.request import PATH_SAFE

from keypairs_ext.host import auth, faults, microversion, serialize, versions
from keypairs_ext.host.contract import (
    ApiRequest,
    ApiResponse,
    Extension,
    Notifier,
    RawBody,
    Route,
    Version,
)
from keypairs_ext.host.reply import Reply, reply
from keypairs_ext.host.router import MethodNotAllowed, Router

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


def _decoded(segment: str) -> str:
    """A path parameter as the client meant it.

    A WSGI server decodes PATH_INFO; cheroot (as RFC 3986 asks) leaves an
    encoded slash as ``%2F`` so that it cannot split a segment in two, and
    the handler would see ``a%2Fb`` for ``a/b``.
    """
    return segment.replace("%2F", "/") if "%" in segment else segment


_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)


def _routing_path(request: webob.Request) -> str:
    """PATH_INFO, with an encoded slash kept as ``%2F`` inside its segment.

    waitress and gunicorn decode ``%2F`` in PATH_INFO, which would split
    ``a%2Fb`` into two segments; both also pass the request target as sent
    (``REQUEST_URI``, ``RAW_URI``), from which the path is decoded again with
    every encoded slash kept.  Anything that does not agree with PATH_INFO is
    left alone.
    """
    path = request.path_info
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if not raw or "%" not in raw or not _ENCODED_SLASH.search(raw):
        return path
    raw_path = raw.partition("?")[0]
    try:
        whole = unquote(raw_path, errors="strict")
        kept = unquote(_ENCODED_SLASH.sub("%252F", raw_path), errors="strict")
    except UnicodeDecodeError:
        return path
    script = request.script_name
    if whole != script + path or not kept.startswith(script):
        return path
    return kept[len(script) :]


@functools.lru_cache(maxsize=64)
def _application_url(
    scheme: str, host: str | None, server: str | None, port: str | None, script: str
) -> str:
    environ = {
        "wsgi.url_scheme": scheme,
        "HTTP_HOST": host,
        "SERVER_NAME": server,
        "SERVER_PORT": port,
        "SCRIPT_NAME": script,
    }
    return webob.Request({k: v for k, v in environ.items() if v is not None}).application_url


def _path_url(environ: dict) -> str:
    """webob's ``Request.path_url``, with the host part computed once per host.

    The scheme, host and script name repeat on every request; webob works
    the URL out again each time.  Its path part is PATH_INFO's bytes quoted
    as webob quotes them.
    """
    base = _application_url(
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        environ.get("SCRIPT_NAME", ""),
    )
    return base + quote(environ["PATH_INFO"].encode("latin-1"), PATH_SAFE)


class ComputeAPI:
    """The WSGI application behind the middleware."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        strategy: Any,
        extensions: Sequence[Extension],
        routes: Sequence[Route],
        notifier: Notifier | None = None,
    ) -> None:
        self.conf = conf
        self.settle_notifications = getattr(notifier, "settle", None)
        self.max_version = Version.parse(conf.api.max_microversion)
        self.max_body = conf.api.max_request_body_size
        self.strategy = strategy
        self.extensions = list(extensions)
        self.contracts = tuple(
            (
                ext.contract_name,
                Version.parse(ext.contract_min_version or "1.0"),
                Version.parse(ext.contract_max_version or "1.0"),
            )
            for ext in self.extensions
            if ext.contract_name
        )
        # Clients send the same few version headers on every request: each
        # distinct value is negotiated once (bounded, since clients choose
        # them); an error is raised again each time.
        self._compute_version = functools.lru_cache(maxsize=256)(self._negotiate_compute)
        self._contract_items = functools.lru_cache(maxsize=256)(self._negotiate_contracts)
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
            response = self._fault(500, "Unexpected API Error. Please report this.")
        return response(environ, start_response)

    # --- the flow -----------------------------------------------------------

    def _handle(self, request: webob.Request) -> Reply | webob.Response:
        try:
            path = _routing_path(request)
            _ = request.script_name  # decoded later for URLs: check it now
        except UnicodeDecodeError:
            return self._fault(400, "Malformed request URL: the path is not valid UTF-8.")
        discovery = DISCOVERY.get(path)
        if discovery is not None:
            return self._discovery(request, discovery)
        legacy = path.startswith(("/v2/", "/v1.1/"))
        media = serialize.choose_response_type(request.environ.get("HTTP_ACCEPT"), legacy)
        # Filled once the versions are negotiated; faults after that carry them.
        version_headers: dict[str, str] = {}
        try:
            return self._dispatch(request, path, legacy, media, version_headers)
        except auth.Handshake as handshake:
            return Reply(204, list(handshake.headers.items()))
        except Exception as error:
            fault = faults.fault_for(error)
            if fault is None:
                raise
            headers = {**(version_headers if fault.versioned else {}), **fault.headers}
            return self._fault(fault.status, fault.message, media, headers)

    def _dispatch(
        self,
        request: webob.Request,
        path: str,
        legacy: bool,
        media: str,
        version_headers: dict[str, str],
    ) -> Reply:
        version = microversion.LEGACY_VERSION
        # The legacy endpoints speak 2.0 only: no extension contracts there.
        contract_versions: dict[str, Version] = {}
        if not legacy:
            standard = request.environ.get(microversion.STANDARD_ENVIRON)
            version, headers = self._compute_version(
                standard, request.environ.get(microversion.LEGACY_ENVIRON)
            )
            version_headers.update(headers)
            contract_versions = self._contract_versions(standard)
        if contract_versions:
            version_headers[microversion.STANDARD_HEADER] += "".join(
                f", {name} {v}" for name, v in contract_versions.items()
            )
        context = self.strategy.context(request)
        match = self._match(request.method, path, contract_versions)
        if match is None:
            raise faults.HTTPFault(404, "The resource could not be found.")
        mounted: Mounted = match.entry.target
        params = {name: _decoded(value) for name, value in match.params.items()}
        project_id = params.pop("project_id", None)
        if project_id is not None and project_id != context.project_id:
            raise faults.HTTPFault(
                400,
                f"Malformed request URL: URL's project_id '{project_id}' doesn't "
                f"match Context's project_id '{context.project_id}'",
            )
        query_string = request.environ.get("QUERY_STRING", "")
        api_request = ApiRequest(
            context=context,
            version=version,
            legacy=legacy,
            path_params=params,
            query=parse_qsl(query_string, keep_blank_values=True) if query_string else [],
            body=self._body(request, legacy),
            url=_path_url(request.environ),
            query_string=query_string,
            extension_versions=contract_versions,
        )
        try:
            result = mounted.route.handler(api_request)
        finally:
            # The request's notifications go out before its response.
            if self.settle_notifications is not None:
                self.settle_notifications()
        return self._render(result, media, version_headers, mounted.route)

    def _match(self, method: str, path: str, contracts: dict[str, Version]) -> Any:
        for name in contracts:
            router = self.contract_routers.get(name)
            if router is not None:
                try:
                    match = router.match(method, path)
                except MethodNotAllowed:
                    match = None
                if match is not None and match.entry.target.route.serves(contracts[name]):
                    return match
        return self.router.match(method, path)

    def _negotiate_compute(
        self, standard: str | None, legacy: str | None
    ) -> tuple[Version, tuple[tuple[str, str], ...]]:
        version = microversion.negotiate_values(standard, legacy, self.max_version)
        return version, tuple(microversion.response_headers(version).items())

    def _negotiate_contracts(self, standard: str | None) -> tuple[tuple[str, Version], ...]:
        return microversion.negotiate_contracts(standard, self.contracts)

    def _contract_versions(self, standard: str | None) -> dict[str, Version]:
        if not self.contracts:
            return {}
        return dict(self._contract_items(standard))

    def _body(self, request: webob.Request, legacy: bool) -> Any:
        length = request.content_length
        if length is not None and length > self.max_body:
            raise faults.HTTPFault(413, "Request is too large.")
        if not (length or request.is_body_readable):
            return None  # no body (as an empty one decodes)
        reader = sizelimit.LimitingReader(request.body_file_raw, self.max_body)
        try:
            raw = reader.read()
        except webob.exc.HTTPRequestEntityTooLarge as exc:
            raise faults.HTTPFault(413, "Request is too large.") from exc
        return serialize.decode_body(raw, request.content_type, legacy)

    # --- responses ----------------------------------------------------------

    def _render(
        self, result: ApiResponse, media: str, headers: dict[str, str], route: Route
    ) -> Reply:
        if isinstance(result.body, RawBody):
            raw = {
                "Content-Type": result.body.media_type,
                "Content-Length": str(len(result.body.data)),
            }
            merged = {**headers, **result.headers, **raw}
            return Reply(result.status, list(merged.items()), result.body.data)
        body = None
        if result.body is not None:
            body = serialize.encode(result.body, media, route.xml_list_item)
        return reply(result.status, media, body, headers, result.headers)

    def _fault(
        self,
        status: int,
        message: str,
        media: str = serialize.JSON,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        body = serialize.encode(faults.fault_body(status, message), media)
        return reply(status, media, body, headers or {})

    def _discovery(self, request: webob.Request, which: str) -> webob.Response:
        if request.method not in ("GET", "HEAD"):
            return self._fault(405, "The method specified is not allowed for this resource.")
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
