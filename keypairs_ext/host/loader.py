"""Find, check and build the enabled extensions, failing fast.

stevedore's defaults log and skip a plugin that fails to load; a host that
silently runs without a configured extension serves the wrong API, so every
problem with an *enabled* extension here stops the host with an error that
names it.  Installed extensions that are not enabled may be broken without
harm: they are only named when an enabled alias cannot be found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from stevedore import ExtensionManager

from keypairs_ext.host.contract import EXTENSION_GROUP, IDENTITY_ATTRIBUTES, Extension


class ExtensionLoadError(RuntimeError):
    """An enabled extension cannot be used; the message names it."""


@dataclasses.dataclass
class Installed:
    """The extension classes installed in a group, by alias."""

    classes: dict[str, type[Extension]]
    #: entry-point name -> why it failed to load
    failures: dict[str, str]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def find_installed(group: str = EXTENSION_GROUP) -> Installed:
    failures: dict[str, str] = {}

    def record_failure(_manager: Any, entry_point: Any, exc: BaseException) -> None:
        failures[entry_point.name] = f"{entry_point.value} ({_describe(exc)})"

    manager = ExtensionManager(
        namespace=group,
        invoke_on_load=False,
        on_load_failure_callback=record_failure,
    )
    classes: dict[str, type[Extension]] = {}
    owners: dict[str, str] = {}
    for plugin in sorted(manager.extensions, key=lambda p: p.name):
        cls = plugin.plugin
        alias = getattr(cls, "alias", None)
        if not isinstance(alias, str) or not alias:
            failures[plugin.name] = f"{plugin.entry_point.value} (no 'alias' attribute)"
            continue
        if alias in classes:
            raise ExtensionLoadError(
                f"Extension alias {alias!r} is claimed by two entry points in "
                f"{group!r}: {owners[alias]!r} and {plugin.name!r}"
            )
        classes[alias] = cls
        owners[alias] = plugin.name
    return Installed(classes, failures)


def check_identity(cls: type) -> None:
    """Raise ExtensionLoadError unless ``cls`` fits the contract."""
    label = f"{cls.__module__}.{cls.__qualname__}"
    if not (isinstance(cls, type) and issubclass(cls, Extension)):
        raise ExtensionLoadError(
            f"Extension {label} does not derive from keypairs_ext.host.contract.Extension"
        )
    for attribute in IDENTITY_ATTRIBUTES:
        value = getattr(cls, attribute, None)
        if not isinstance(value, str) or not value.strip():
            raise ExtensionLoadError(
                f"Extension {label} lacks the required attribute {attribute!r}"
            )


def select(installed: Installed, enabled: Sequence[str]) -> list[type[Extension]]:
    """The classes for ``enabled`` aliases, in that order."""
    seen: set[str] = set()
    selected = []
    for alias in enabled:
        if alias in seen:
            raise ExtensionLoadError(
                f"Extension {alias!r} is listed twice in [api] enabled_extensions"
            )
        seen.add(alias)
        cls = installed.classes.get(alias)
        if cls is None:
            raise ExtensionLoadError(_missing_message(alias, installed))
        check_identity(cls)
        selected.append(cls)
    return selected


def _missing_message(alias: str, installed: Installed) -> str:
    message = (
        f"Extension {alias!r} is enabled in [api] enabled_extensions but no "
        f"installed extension has that alias (installed: "
        f"{', '.join(sorted(installed.classes)) or 'none'})"
    )
    if installed.failures:
        broken = "; ".join(f"{n} = {why}" for n, why in sorted(installed.failures.items()))
        message += f"; entry points that failed to load: {broken}"
    return message


def instantiate(cls: type[Extension], services: Any) -> Extension:
    try:
        return cls(services)
    except Exception as exc:
        raise ExtensionLoadError(
            f"Extension {cls.alias!r} ({cls.__module__}.{cls.__qualname__}) "
            f"failed to start: {_describe(exc)}"
        ) from exc


def disabled_server_properties(installed: Installed, enabled: Sequence[str]) -> dict[str, str]:
    """Server body property -> alias of the installed but disabled extension adding it."""
    owners = {}
    for alias, cls in installed.classes.items():
        if alias not in enabled:
            for prop in getattr(cls, "server_properties", ()):
                owners[prop] = alias
    return owners
