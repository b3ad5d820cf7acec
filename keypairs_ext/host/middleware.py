"""The WSGI layer in front of the compute API: proxy headers and request ids."""

from __future__ import annotations

from typing import Any

import webob
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_middleware import http_proxy_to_wsgi, request_id

# The environ keys of the request headers HTTPProxyToWSGI reads: without any
# of them it has nothing to do.
_PROXY_HEADERS = frozenset(
    (
        "HTTP_FORWARDED",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_PREFIX",
    )
)
# The environ key of the global request id header RequestId reads.
_INBOUND_REQUEST_ID = "HTTP_" + request_id.INBOUND_HEADER.upper().replace("-", "_")


class RequestEdge:
    """oslo.middleware's HTTPProxyToWSGI then RequestId, as one plain WSGI layer.

    Each of those middlewares wraps the request in a webob Request, re-wraps
    the response in a webob Response and inspects its own signature on every
    request; stacked, that cost more than the rest of a keypair show.  This
    layer runs their own request-side code on the environ (proxy headers,
    then the global and the new request id) when the request has the
    headers it reads, and adds the ``x-openstack-request-id`` response
    header unless the app set one.
    """

    def __init__(self, app: Any, conf: cfg.ConfigOpts) -> None:
        self.app = app
        self._proxy = http_proxy_to_wsgi.HTTPProxyToWSGI(None, conf)
        self._request_id = request_id.RequestId(None)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if not environ.keys().isdisjoint(_PROXY_HEADERS):
            self._proxy.process_request(webob.Request(environ))
        if _INBOUND_REQUEST_ID in environ:
            self._request_id.set_global_req_id(webob.Request(environ))
        req_id = oslo_context.generate_request_id()
        environ[request_id.ENV_REQUEST_ID] = req_id
        header = request_id.HTTP_RESP_HEADER_REQUEST_ID

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            for name, _ in headers:
                if name.lower() == header:
                    break
            else:
                headers = [*headers, (header, req_id)]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
