"""What the keypairs extension tells the message bus.

The compatible events are OpenStack Compute's, event for event: the legacy
``keypair.<action>.start|end`` with ``{tenant_id, user_id, key_name}`` of
the caller, the versioned ones with a ``KeypairPayload`` 1.0 of the owner,
and on failure the legacy ERROR event named after Nova's method and the
versioned ``compute.exception``.  :class:`Operation` brackets one of Nova's
``KeypairAPI`` methods: whatever escapes it is reported as Nova's
``wrap_exception`` does.

Extended events (:meth:`KeypairEvents.extended`) are the extension's own:
versioned payloads in the ``keypairs_ext`` namespace, each checked against
the JSON schema registered for it in :data:`EXTENDED_PAYLOADS` (the
documented schema), and sent only when ``[keypairs] extended_notifications``
is on.  The host decides whether, where and how anything is sent.
"""

from __future__ import annotations

import traceback
import types
from collections.abc import Mapping
from typing import Any

import jsonschema

from keypairs_ext import exception, notification_payloads
from keypairs_ext.host.contract import LEGACY, VERSIONED, APIError, Notifier

NOVA_NAMESPACE = "nova"
EXTENDED_NAMESPACE = "keypairs_ext"
KEYPAIR_PAYLOAD = ("KeypairPayload", "1.0")
EXCEPTION_PAYLOAD = ("ExceptionPayload", "1.1")
#: Nova's message for an exception it has no text for
UNKNOWN_ERROR = "An unknown exception occurred."

# Nova's names and internal codes for the errors a keypair call can raise.
# The code in the legacy error is Nova's, not the HTTP status (409 is 500).
_NOVA_ERRORS: dict[type, tuple[str, int]] = {
    exception.KeypairExists: ("KeyPairExists", 500),
    exception.KeypairNotFound: ("KeypairNotFound", 404),
    exception.InvalidKeypair: ("InvalidKeypair", 400),
    exception.KeypairLimitExceeded: ("KeypairLimitExceeded", 413),
}
_BASE_CODES: tuple[tuple[type, int], ...] = (
    (exception.Invalid, 400),
    (exception.Forbidden, 403),
    (exception.NotFound, 404),
    (exception.Conflict, 409),
    (exception.QuotaExceeded, 413),
)

#: Extended payloads: name -> (version, JSON schema of ``nova_object.data``)
EXTENDED_PAYLOADS: dict[str, tuple[str, dict[str, Any]]] = notification_payloads.PAYLOADS


_payload_validators: dict[int, tuple[dict[str, Any], Any]] = {}


def _check_payload(schema: dict[str, Any], data: dict[str, Any]) -> None:
    """``jsonschema.validate(data, schema)``, with the schema checked and its
    validator built once rather than at every event (milliseconds each)."""
    cached = _payload_validators.get(id(schema))
    if cached is None or cached[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        cached = _payload_validators[id(schema)] = (schema, cls(schema))
    error = jsonschema.exceptions.best_match(cached[1].iter_errors(data))
    if error is not None:
        raise error


def keypair_fields(
    user_id: str, name: str, fingerprint: str | None, public_key: str | None, key_type: str
) -> dict[str, Any]:
    """The data of a ``KeypairPayload`` 1.0, in Nova's field order."""
    return {
        "user_id": user_id,
        "name": name,
        "fingerprint": fingerprint,
        "public_key": public_key,
        "type": key_type,
    }


def versioned_payload(name: str, version: str, data: Mapping[str, Any], namespace: str) -> dict:
    return {
        "nova_object.name": name,
        "nova_object.namespace": namespace,
        "nova_object.version": version,
        "nova_object.data": dict(data),
    }


class KeypairEvents:
    """The extension's events, sent through the host's notifier."""

    def __init__(self, notifier: Notifier, extended: bool) -> None:
        self.notifier = notifier
        self.legacy = notifier.enabled(LEGACY)
        self.versioned = notifier.enabled(VERSIONED)
        self.extended_on = extended and self.versioned

    @property
    def on(self) -> bool:
        return self.legacy or self.versioned

    def operation(self, context: Any, method: str, args: Mapping[str, Any]) -> Operation:
        """Bracket Nova's ``KeypairAPI.<method>(**args)``."""
        return Operation(self, context, method, args)

    def extended(
        self, context: Any, event_type: str, payload_name: str, data: Mapping[str, Any]
    ) -> None:
        """Send an extended event whose payload is registered in EXTENDED_PAYLOADS."""
        version, schema = EXTENDED_PAYLOADS[payload_name]
        # Checked even when nothing is sent, so that a wrong payload fails its tests.
        _check_payload(schema, dict(data))
        if self.extended_on:
            payload = versioned_payload(payload_name, version, data, EXTENDED_NAMESPACE)
            self.notifier.notify(context, VERSIONED, event_type, payload)


class Operation:
    """One keypair call as Nova's ``KeypairAPI`` reports it.

    Use as a context manager: an exception that leaves the block sends the
    legacy ERROR event ``<method>`` and the versioned ``compute.exception``,
    then goes on.
    """

    def __init__(
        self, events: KeypairEvents, context: Any, method: str, args: Mapping[str, Any]
    ) -> None:
        self.events = events
        self.context = context
        self.method = method
        self.args = dict(args)

    def legacy(self, action: str, phase: str) -> None:
        if self.events.legacy:
            context = self.context
            payload = {
                "tenant_id": context.project_id,
                "user_id": context.user_id,
                "key_name": self.args["key_name"],
            }
            self.events.notifier.notify(context, LEGACY, f"keypair.{action}.{phase}", payload)

    def versioned(self, action: str, phase: str, keypair: Mapping[str, Any]) -> None:
        if self.events.versioned:
            payload = versioned_payload(*KEYPAIR_PAYLOAD, keypair, NOVA_NAMESPACE)
            self.events.notifier.notify(
                self.context, VERSIONED, f"keypair.{action}.{phase}", payload
            )

    def start(self, action: str, keypair: Mapping[str, Any]) -> None:
        self.legacy(action, "start")
        self.versioned(action, "start", keypair)

    def end(self, action: str, keypair: Mapping[str, Any]) -> None:
        self.versioned(action, "end", keypair)
        self.legacy(action, "end")

    def __enter__(self) -> Operation:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if isinstance(error, Exception) and self.events.on:
            self._failed(error)

    def _failed(self, error: Exception) -> None:
        name, code = _nova_error(error)
        message = str(error) if isinstance(error, APIError) else UNKNOWN_ERROR
        notifier = self.events.notifier
        if self.events.legacy:
            # Nova's ``exception`` is the string of a dict, not a JSON object.
            described = {"kwargs": {**_error_kwargs(error), "code": code}, "message": message}
            described["class"] = name
            payload = {"exception": str(described), "args": self.args}
            notifier.notify(self.context, LEGACY, self.method, payload, "ERROR")
        if self.events.versioned:
            # Nova's field order: where, what, then the traceback.
            data = {
                **_raised_at(error),
                "exception": name,
                "exception_message": message,
                "traceback": _traceback(error, name, message),
            }
            payload = versioned_payload(*EXCEPTION_PAYLOAD, data, NOVA_NAMESPACE)
            notifier.notify(self.context, VERSIONED, "compute.exception", payload, "ERROR")


def _nova_error(error: Exception) -> tuple[str, int]:
    known = _NOVA_ERRORS.get(type(error))
    if known is not None:
        return known
    code = next((c for base, c in _BASE_CODES if isinstance(error, base)), 500)
    return type(error).__name__, code


def _error_kwargs(error: Exception) -> dict[str, Any]:
    """The arguments Nova's exception would carry."""
    if isinstance(error, exception.KeypairExists):
        return {"key_name": error.name}
    if isinstance(error, exception.KeypairNotFound):
        return {"user_id": error.user_id, "name": error.name}
    if isinstance(error, exception.InvalidKeypair):
        return {"reason": error.reason}
    return {}


def _raised_at(error: Exception) -> dict[str, str]:
    """Module and function of the frame that raised ``error``."""
    frames = list(traceback.walk_tb(error.__traceback__))
    if not frames:
        return {"module_name": __name__, "function_name": "unknown"}
    frame = frames[-1][0]
    return {
        "module_name": frame.f_globals.get("__name__", "unknown"),
        "function_name": frame.f_code.co_name,
    }


def _traceback(error: Exception, name: str, message: str) -> str:
    """Nova's traceback text: the lines joined with ``,``.

    The last line says what the payload says, never the exception's own
    text, which for a database error would quote SQL and its parameters.
    """
    frames = traceback.format_tb(error.__traceback__)
    return ",".join(["Traceback (most recent call last):\n", *frames, f"{name}: {message}\n"])
