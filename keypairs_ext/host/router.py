"""Explicit routes: every URL the host serves is one entry of a table.

A template is a path of literal segments and ``{param}`` segments.  When
several templates match, the one with more literal segments wins, then the
one declared first; so ``/v2.1/servers/detail`` is the detail list, not the
server called ``detail``.
"""

from __future__ import annotations

import dataclasses
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


def _split(path: str) -> list[str]:
    path = path.strip("/")
    return path.split("/") if path else []


class _Node:
    """One segment position of the templates that share their first segments."""

    __slots__ = ("literals", "param", "entries")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None
        # templates ending here, in declaration order:
        # (declaration index, entry, (position, name) of each parameter)
        self.entries: list[tuple[int, Entry, tuple[tuple[int, str], ...]]] = []


class Router:
    def __init__(self) -> None:
        self._entries: list[Entry] = []
        # A trie of the templates: a request path walks only the branches
        # whose literals it has (and the parameter branches), instead of
        # trying every template of its length.
        self._root = _Node()

    def add(self, method: str, template: str, target: Any) -> None:
        segments = tuple(_split(template))
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
        node = self._root
        for segment in segments:
            if segment.startswith("{"):
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        params = tuple((i, s[1:-1]) for i, s in enumerate(segments) if s.startswith("{"))
        node.entries.append((len(self._entries), entry, params))
        self._entries.append(entry)

    def match(self, method: str, path: str) -> Match | None:
        """The route for ``method path``; None when no template fits.

        Raises MethodNotAllowed when a template fits but not for ``method``.
        """
        parts = _split(path)
        depth = len(parts)
        best: tuple[int, int] | None = None  # (-literals, declaration index)
        found = None
        allowed: set[str] = set()
        pending = [(self._root, 0)]
        while pending:
            node, at = pending.pop()
            if at == depth:
                for index, entry, params in node.entries:
                    if entry.method != method:
                        allowed.add(entry.method)
                        continue
                    rank = (-entry.literals, index)
                    if best is None or rank < best:
                        best, found = rank, (entry, params)
                continue
            part = parts[at]
            literal = node.literals.get(part)
            if literal is not None:
                pending.append((literal, at + 1))
            # A parameter takes any segment but an empty one.
            if node.param is not None and part:
                pending.append((node.param, at + 1))
        if found is not None:
            entry, params = found
            return Match(entry, {name: parts[i] for i, name in params})
        if allowed:
            raise MethodNotAllowed(sorted(allowed))
        return None

    def table(self) -> list[tuple[str, str]]:
        """Every (method, template) served, in declaration order."""
        return [(e.method, e.template) for e in self._entries]
