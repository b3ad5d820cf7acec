import inspect
import re
import uuid

import pytest
import webob
from oslo_config import cfg
from oslo_middleware import http_proxy_to_wsgi, request_id

from keypairs_ext.host import middleware

GLOBAL_ID = "req-12345678-1234-1234-1234-123456789abc"


def _edge(parse_proxy_headers=False, headers=()):
    conf = cfg.ConfigOpts()
    conf([], project="keypairs-test")
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", list(headers))
        return [b""]

    edge = middleware.RequestEdge(app, conf)
    conf.set_override("enable_proxy_headers_parsing", parse_proxy_headers, "oslo_middleware")
    return edge, seen


def _call(edge, request_headers=None):
    request = webob.Request.blank("/v2.1/os-keypairs", headers=request_headers or {})
    response = request.get_response(edge)
    return request.environ, response


def test_every_request_gets_a_new_request_id_in_environ_and_response():
    edge, seen = _edge()
    _, first = _call(edge)
    _, second = _call(edge)
    assert re.fullmatch(request_id.ID_FORMAT, first.headers["x-openstack-request-id"])
    assert seen[request_id.ENV_REQUEST_ID] == second.headers["x-openstack-request-id"]
    assert first.headers["x-openstack-request-id"] != second.headers["x-openstack-request-id"]
    assert request_id.GLOBAL_REQ_ID not in seen


def test_a_request_id_the_app_set_is_kept():
    edge, _ = _edge(headers=[("X-OpenStack-Request-Id", "req-own")])
    _, response = _call(edge)
    assert response.headers.getall("x-openstack-request-id") == ["req-own"]


@pytest.mark.parametrize(("sent", "kept"), [(GLOBAL_ID, GLOBAL_ID), ("req-bogus", None)])
def test_a_well_formed_global_request_id_is_passed_on(sent, kept):
    edge, seen = _edge()
    _call(edge, {"X-OpenStack-Request-ID": sent})
    assert seen.get(request_id.GLOBAL_REQ_ID) == kept


def test_proxy_headers_apply_only_when_parsing_is_enabled():
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "cloud.example",
        "X-Forwarded-Prefix": "/compute",
    }
    edge, seen = _edge()
    _call(edge, headers)
    assert (seen["wsgi.url_scheme"], seen["HTTP_HOST"]) == ("http", "localhost:80")
    edge, seen = _edge(parse_proxy_headers=True)
    _call(edge, headers)
    assert (seen["wsgi.url_scheme"], seen["HTTP_HOST"], seen["SCRIPT_NAME"]) == (
        "https",
        "cloud.example",
        "/compute",
    )
    edge, seen = _edge(parse_proxy_headers=True)
    _call(edge, {"Forwarded": "for=192.0.2.60;proto=https;host=h.example"})
    assert (seen["wsgi.url_scheme"], seen["HTTP_HOST"]) == ("https", "h.example")


def test_every_header_the_proxy_middleware_reads_is_looked_for():
    # The edge skips HTTPProxyToWSGI for a request without these headers.
    source = inspect.getsource(http_proxy_to_wsgi.HTTPProxyToWSGI.process_request)
    read = set(re.findall(r"environ\.get\(\s*[\"'](HTTP_\w+)[\"']", source))
    assert read and read <= set(middleware._PROXY_HEADERS)


def test_request_ids_are_random_version_4_uuids():
    edge, _ = _edge()
    ids = {_call(edge)[1].headers["x-openstack-request-id"] for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert re.fullmatch(request_id.ID_FORMAT, value)
        parsed = uuid.UUID(value.removeprefix("req-"))
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == value.removeprefix("req-")
