"""WSGI entry points for gunicorn or uwsgi.

``keypairs_ext.host.wsgi:application`` is the compute API and
``keypairs_ext.host.wsgi:metadata_application`` the metadata service.  The
configuration file comes from ``KEYPAIRS_CONFIG_FILE`` (default
``/etc/keypairs/keypairs.conf`` when it exists).  Run ``keypairs-manage db
sync`` first: these entry points do not migrate, since several workers
would race to.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from keypairs_ext.host import app

DEFAULT_CONFIG = "/etc/keypairs/keypairs.conf"
_host = None
_lock = threading.Lock()


def _get_host() -> Any:
    global _host
    with _lock:
        if _host is None:
            path = os.environ.get("KEYPAIRS_CONFIG_FILE") or (
                DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None
            )
            conf = app.make_conf_for_service(["--config-file", path] if path else [])
            _host = app.build(conf)
        return _host


def application(environ: dict, start_response: Any) -> Any:
    return _get_host().api(environ, start_response)


def metadata_application(environ: dict, start_response: Any) -> Any:
    return _get_host().metadata(environ, start_response)
