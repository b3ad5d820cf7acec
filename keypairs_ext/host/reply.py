"""A finished WSGI response: status, header list and body, sent as they are.

``webob.Response`` parses and re-serialises every header it is given and
keeps a case-insensitive view of them; for a response that is built once and
sent at once that was a tenth of a keypair show.  A ``Reply`` is the same
three things webob would have sent, without the bookkeeping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from webob.util import status_reasons

# The statuses that carry a Content-Type even when they carry no body,
# as webob.Response gave them.
_EMPTY_WITH_TYPE = (200, 201, 202)
_STATUS_LINES = {status: f"{status} {reason}" for status, reason in status_reasons.items()}


@dataclasses.dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        start_response(_STATUS_LINES[self.status], self.headers)
        # A HEAD answer has the GET answer's headers and no body.
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]


def reply(
    status: int,
    media: str,
    body: bytes | None,
    *header_sets: Mapping[str, str],
) -> Reply:
    """A response of ``status`` with ``body`` (None: no body) of type ``media``."""
    merged: dict[str, str] = {}
    for headers in header_sets:
        merged.update(headers)
    if body is not None:
        merged["Content-Type"] = f"{media}; charset=UTF-8"
        merged["Content-Length"] = str(len(body))
    elif status in _EMPTY_WITH_TYPE:
        merged["Content-Type"] = media
        merged["Content-Length"] = "0"
    return Reply(status, list(merged.items()), body or b"")
