"""Explicit routes: every URL the host serves is one entry of a table.

A template is a path of literal segments and ``{param}`` segments.  When
several templates match, the one with more literal segments wins, then the
one declared first; so ``/v2.1/servers/detail`` is the detail list, not the
server called ``detail``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any


@dataclasses.dataclass(frozen=True)
class Entry:
    method: str
    template: str
    target: Any
    segments: tuple[str, ...]
    literals: int


@dataclasses.dataclass
class Match:
    entry: Entry
    params: dict[str, str]


class MethodNotAllowed(Exception):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


def _split(path: str) -> tuple[str, ...]:
    return tuple(path.strip("/").split("/")) if path.strip("/") else ()


def _matches(segments: tuple[str, ...], parts: tuple[str, ...]) -> dict[str, str] | None:
    params = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment.startswith("{"):
            if not part:
                return None
            params[segment[1:-1]] = part
        elif segment != part:
            return None
    return params


class Router:
    def __init__(self) -> None:
        self._entries: list[Entry] = []
        # (number of segments, first segment) -> entries, most literal first
        self._index: dict[tuple[int, str], list[Entry]] = defaultdict(list)

    def add(self, method: str, template: str, target: Any) -> None:
        segments = _split(template)
        for existing in self._entries:
            if existing.method == method and existing.segments == segments:
                raise ValueError(f"route {method} {template} is declared twice")
        entry = Entry(
            method,
            template,
            target,
            segments,
            sum(1 for s in segments if not s.startswith("{")),
        )
        self._entries.append(entry)
        bucket = self._index[(len(segments), segments[0] if segments else "")]
        bucket.append(entry)
        bucket.sort(key=lambda e: -e.literals)

    def match(self, method: str, path: str) -> Match | None:
        """The route for ``method path``; None when no template fits.

        Raises MethodNotAllowed when a template fits but not for ``method``.
        """
        parts = _split(path)
        allowed: list[str] = []
        for entry in self._index.get((len(parts), parts[0] if parts else ""), ()):
            params = _matches(entry.segments, parts)
            if params is None:
                continue
            if entry.method == method:
                return Match(entry, params)
            if entry.method not in allowed:
                allowed.append(entry.method)
        if allowed:
            raise MethodNotAllowed(sorted(allowed))
        return None

    def table(self) -> list[tuple[str, str]]:
        """Every (method, template) served, in declaration order."""
        return [(e.method, e.template) for e in self._entries]
