"""The audit lines of create and delete: who made or removed which key."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from tests.functional import keypairs_helpers as helpers

shared_host = helpers.shared_host
AUDIT_LOGGER = "keypairs_ext.api.controller"


def call(app: Any, method: str, path: str, body: Any = None) -> tuple[str, Any]:
    """Call the WSGI app as a server does; return the status and the body."""
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": io.StringIO(),
        "HTTP_X_AUTH_TOKEN": "auditor:project1",
        "HTTP_OPENSTACK_API_VERSION": "compute 2.92",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
    }
    statuses: list[str] = []
    iterable = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    return statuses[0], iterable


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER]


def test_create_and_delete_are_logged(shared_host, caplog) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    key = helpers.ed25519_line()
    status, body = call(
        shared_host.api, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "kp", "public_key": key}}
    )
    created = json.loads(b"".join(body))["keypair"]
    assert status.startswith("201")
    assert audit_lines(caplog) == [
        f"Created keypair kp (ssh {created['fingerprint']}) for user auditor"
    ]

    status, body = call(shared_host.api, "DELETE", "/v2.1/os-keypairs/kp")
    assert status.startswith("204")
    assert audit_lines(caplog)[-1] == "Deleted keypair kp of user auditor"


def test_a_refused_create_writes_no_audit_line(shared_host, caplog) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    status, body = call(shared_host.api, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "x"}})
    assert status.startswith("400")
    assert audit_lines(caplog) == []
