"""Helpers every kind of test shares: ports, config files, programs, keys, versions.

Anything used by more than one test module lives here once; helpers of one
area stay beside it (``functional/keypairs_helpers.py``,
``functional/robustness_support.py``, ``e2e/api_process.py``).
"""

from __future__ import annotations

import itertools
import os
import pathlib
import shutil
import socket
import sys
from collections.abc import Mapping
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

#: the directory of this environment's console scripts (keypairs-api, nova...)
BIN = pathlib.Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
#: the newest compute microversion the reference host serves ("latest")
LATEST = "2.92"


def command(name: str) -> str:
    """The path of console script ``name``: this environment's first, then PATH."""
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed"
    return found


# Ports for the tests' servers: a block of its own for each pytest-xdist
# worker, below the kernel's ephemeral range (32768 and up on Linux).  A port
# the kernel picked (bind to 0) could be picked again by another worker, or
# given to a client socket, before the server that was meant to bind it did:
# a test then spoke HTTP to another test's sshd.
_PORTS_FROM = 10000
_PORTS_PER_WORKER = 500
_PORTS_WORKERS = 40  # blocks up to 30000; more workers share them, round robin


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % _PORTS_WORKERS if worker.isdigit() else 0
    start = _PORTS_FROM + index * _PORTS_PER_WORKER
    return range(start, start + _PORTS_PER_WORKER)


_next_port = itertools.cycle(_port_block())


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on ``host`` now, from this worker's own block: no
    other worker of the run is handed it."""
    for _ in range(_PORTS_PER_WORKER):
        port = next(_next_port)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:  # in use (another service, or a test's server still up)
                continue
            return port
    raise RuntimeError(f"no free port left in {_port_block()}")


def write_config(path: Any, sections: Mapping[str, Mapping[str, Any]]) -> str:
    """Write an oslo.config file of ``{section: {option: value}}``; its path."""
    text = "".join(
        f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in options.items())
        for section, options in sections.items()
    )
    pathlib.Path(path).write_text(text)
    return os.fspath(path)


def ed25519_line(comment: str = "") -> str:
    """A new Ed25519 OpenSSH public key line (no newline), with ``comment``."""
    line = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    return f"{line} {comment}" if comment else line


def version_key(version: str) -> tuple[int, int]:
    """``"2.35"`` -> ``(2, 35)``; ``"latest"`` is the host's newest."""
    major, _, minor = (LATEST if version == "latest" else version).partition(".")
    return int(major), int(minor)


def microversion_at_least(version: str, low: str) -> bool:
    """Whether compute microversion ``version`` is ``low`` or newer."""
    return version_key(version) >= version_key(low)


def migration_head(script_location: str) -> str:
    """The head revision of the alembic scripts at ``script_location``."""
    config = Config()
    config.set_main_option("script_location", script_location)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, f"no migrations in {script_location}"
    return head
