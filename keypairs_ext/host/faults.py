"""The one table from errors to compute faults, and the fault body.

Everything that ends a compute API request with an error status goes
through :data:`ERRORS`: the contract's errors (and the extensions'
subclasses of them), the host's own (:class:`HTTPFault`,
:class:`Unauthorized`, a method the route does not serve, a media type it
does not read), a policy refusal and a database that cannot serve now.
Anything else is a bug, answered as a 500 by the application.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from oslo_policy import policy as oslo_policy

from keypairs_ext.host import contract, database
from keypairs_ext.host.router import MethodNotAllowed
from keypairs_ext.host.serialize import UnsupportedMediaType

LOG = logging.getLogger(__name__)

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


class HTTPFault(Exception):
    """An error the host raises with its HTTP status already known."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Unauthorized(Exception):
    """No valid credentials: answered as a 401 fault."""


@dataclasses.dataclass(frozen=True)
class Fault:
    """How one error is answered."""

    status: int
    message: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: whether the negotiated version headers go with it; not for a 401,
    #: which in a compute deployment comes from the auth layer before the API
    versioned: bool = True


def _says(status: int) -> Callable[[Any], Fault]:
    return lambda error: Fault(status, str(error))


def _policy(error: oslo_policy.PolicyNotAuthorized) -> Fault:
    rule = str(error).removesuffix(" is disallowed by policy")
    return Fault(403, f"Policy doesn't allow {rule} to be performed.")


def _database(error: Exception) -> Fault | None:
    if not database.unavailable(error):
        return None  # not the database's state: a bug, answered as a 500
    LOG.warning("Database unavailable: %s", database.reason(error))
    return Fault(503, "The database is unavailable; try again shortly.")


# Most specific classes first: a subclass maps through its nearest entry.
ERRORS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable]] = [
    (HTTPFault, lambda error: Fault(error.status, error.message)),
    (
        Unauthorized,
        lambda _: Fault(401, "The request you have made requires authentication.", versioned=False),
    ),
    (
        MethodNotAllowed,
        lambda error: Fault(
            405,
            "The method specified is not allowed for this resource.",
            {"Allow": ", ".join(error.allowed)},
        ),
    ),
    (UnsupportedMediaType, _says(415)),
    (oslo_policy.PolicyNotAuthorized, _policy),
    (contract.Invalid, _says(400)),
    (contract.Forbidden, _says(403)),
    (contract.QuotaExceeded, _says(403)),
    (contract.NotFound, _says(404)),
    (contract.Conflict, _says(409)),
    (contract.NotAcceptable, _says(406)),
    (contract.ServiceUnavailable, _says(503)),
    (contract.APIError, _says(500)),
    ((db_exc.DBError, sa.exc.SQLAlchemyError), _database),
]


def fault_for(error: BaseException) -> Fault | None:
    """The fault that answers ``error``; None when no API answer fits (a bug)."""
    for cls, answer in ERRORS:
        if isinstance(error, cls):
            return answer(error)
    return None


def status_of(error: contract.APIError) -> int:
    """The HTTP status of a contract error."""
    fault = fault_for(error)
    assert fault is not None
    return fault.status


def fault_body(status: int, message: str) -> dict[str, Any]:
    name = FAULT_NAMES.get(status, "computeFault")
    return {name: {"code": status, "message": message}}
