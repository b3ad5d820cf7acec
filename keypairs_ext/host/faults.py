"""The one table from errors to compute faults, and the fault body."""

from __future__ import annotations

from typing import Any

from keypairs_ext.host import contract

# Fault names as OpenStack Compute spells them; other codes are computeFault.
FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}

# Most specific classes first: subclasses of these map by inheritance.
ERROR_STATUS: list[tuple[type[contract.APIError], int]] = [
    (contract.Invalid, 400),
    (contract.Forbidden, 403),
    (contract.QuotaExceeded, 403),
    (contract.NotFound, 404),
    (contract.Conflict, 409),
    (contract.NotAcceptable, 406),
    (contract.ServiceUnavailable, 503),
]


class HTTPFault(Exception):
    """An error the host raises with its HTTP status already known."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def status_of(error: contract.APIError) -> int:
    for cls, status in ERROR_STATUS:
        if isinstance(error, cls):
            return status
    return 500


def fault_body(status: int, message: str) -> dict[str, Any]:
    name = FAULT_NAMES.get(status, "computeFault")
    return {name: {"code": status, "message": message}}
