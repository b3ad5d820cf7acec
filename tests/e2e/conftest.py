"""Fixtures for the end-to-end tests: a real Keystone (and Tempest).

The tools come from ``.ci/e2e-tools.sh``. Without them these tests skip,
unless ``KEYPAIRS_REQUIRE_SERVERS=1`` (set by ``.ci/run``) or
``KEYPAIRS_E2E_REQUIRE=1``: then a missing tool fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.keystone_server import KeystoneServer, free_port, keystone_available, tools_dir
from tests.e2e.tempest_config import tempest_available

REQUIRE_TOOLS = "1" in (
    os.environ.get("KEYPAIRS_REQUIRE_SERVERS"),
    os.environ.get("KEYPAIRS_E2E_REQUIRE"),
)


def need_tool(available: bool, what: str) -> None:
    if available:
        return
    message = f"{what} is not installed under {tools_dir()}: run .ci/e2e-tools.sh"
    if REQUIRE_TOOLS:
        pytest.fail(message + " (KEYPAIRS_REQUIRE_SERVERS=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneServer]:
    """One Keystone for the whole session (starting one takes ~5-15 s)."""
    need_tool(keystone_available(), "keystone")
    server = KeystoneServer(tmp_path_factory.mktemp("keystone"), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tempest_tools() -> None:
    need_tool(tempest_available(), "tempest")
