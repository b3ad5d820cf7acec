"""What an operator can fix ends a command with one line, not a traceback."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from importlib import metadata

import sqlalchemy as sa
from oslo_config import cfg
from oslo_db import exception as db_exc

from keypairs_ext.host import auth, database, loader


class AddressInUse(RuntimeError):
    """A port the service should listen on is taken."""


def version() -> str:
    try:
        return metadata.version("keypairs-ext")
    except metadata.PackageNotFoundError:
        return "unknown"


@contextlib.contextmanager
def one_line(prog: str) -> Iterator[None]:
    """Exit non-zero with ``prog: what went wrong and what to do``."""
    try:
        yield
    except cfg.ConfigFilesNotFoundError as exc:
        missing = ", ".join(exc.config_files)
        sys.exit(f"{prog}: configuration file not found: {missing} (check the --config-file path)")
    except cfg.Error as exc:
        sys.exit(f"{prog}: configuration error: {exc}")
    except (
        AddressInUse,
        auth.InsecureBind,
        database.MissingDriver,
        loader.ExtensionLoadError,
    ) as exc:
        sys.exit(f"{prog}: {exc}")
    except (db_exc.DBConnectionError, sa.exc.OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        sys.exit(f"{prog}: cannot use the database ([database] connection): {reason}")
