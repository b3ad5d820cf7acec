"""The oslo.policy enforcer entry point learns the extensions' rules through the loader."""

from __future__ import annotations

import pytest
from stevedore import driver

from keypairs_ext.host import policies


def _enforcer_from_entry_point():
    # As oslopolicy-policy-generator and -checker find it.
    return driver.DriverManager("oslo.policy.enforcer", "keypairs_ext").driver()


def test_the_enforcer_has_the_host_rules_and_the_enabled_extensions_rules() -> None:
    enforcer = _enforcer_from_entry_point()
    names = set(enforcer.registered_rules)
    assert {"context_is_admin", "os_compute_api:servers:create"} <= names
    assert "os_compute_api:os-keypairs:create" in names


def test_a_disabled_extension_adds_no_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # oslo.config reads [api] enabled_extensions from the environment too.
    monkeypatch.setenv("OS_API__ENABLED_EXTENSIONS", "")
    names = set(policies.get_enforcer().registered_rules)
    assert "os_compute_api:servers:create" in names
    assert not any(name.startswith("os_compute_api:os-keypairs") for name in names)
