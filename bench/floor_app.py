"""The floor app: a keypair import that is nothing but the store's durable
create, and a show that is nothing but the store's read.

``python -m bench.floor_app PORT THREADS CONFIG`` serves, as ``bench.hello``
serves hello, a bare WebOb app over the keypair store that ``keypairs-api
--config-file CONFIG`` uses (the same statements, driver and connection
pool).  A POST of an import body creates the keypair, with the fingerprint
computed once per key, and answers 201 with JSON.  A GET with ``user`` and
``name`` in its query reads that keypair and answers 200 with JSON.
Anything else answers 204.  ``bench.floor`` and ``bench.run`` measure it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import webob

from bench.hello import serve
from bench.processes import QUOTA

FLOOR_USER = "bench-floor"


def floor_application(config: str) -> Any:
    from keypairs_ext import crypto
    from keypairs_ext.db.api import KeypairStore
    from keypairs_ext.host import app, database

    conf = app.make_conf_for_service(["--config-file", config])
    store = KeypairStore(database.create_facade(conf), database.create_autocommit_engine(conf))
    fingerprints: dict[str, str] = {}

    def application(environ: dict, start_response: Any) -> Any:
        request = webob.Request(environ)
        if request.method == "GET" and "name" in request.GET:
            response = read(request)
        elif request.method == "POST":
            response = create(request)
        else:  # the readiness probe
            response = webob.Response(status=204)
        return response(environ, start_response)

    def create(request: webob.Request) -> webob.Response:
        keypair = json.loads(request.body)["keypair"]
        public_key = keypair["public_key"]
        if public_key not in fingerprints:  # once per key: the floor parses nothing
            fingerprints[public_key] = crypto.parse_openssh_public_key(public_key).fingerprint
        stored = store.create(
            None,
            {
                "user_id": FLOOR_USER,
                "name": keypair["name"],
                "fingerprint": fingerprints[public_key],
                "public_key": public_key,
                "type": "ssh",
            },
            QUOTA,
        )
        return _json(_view(stored), 201)

    def read(request: webob.Request) -> webob.Response:
        stored = store.get(None, request.GET["user"], request.GET["name"])
        view = _view(stored)
        view["keypair"].update(created_at=stored.created_at.isoformat(), id=stored.id)
        return _json(view, 200)

    return application


def _view(stored: Any) -> dict[str, Any]:
    """The fields a created keypair shows."""
    fields = ("name", "public_key", "fingerprint", "type", "user_id")
    return {"keypair": {field: getattr(stored, field) for field in fields}}


def _json(view: dict[str, Any], status: int) -> webob.Response:
    return webob.Response(
        body=json.dumps(view).encode(),
        status=status,
        content_type="application/json",
        charset="UTF-8",
    )


def main() -> None:
    port, threads, config = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    serve(floor_application(config), port, threads, "bench-floor")


if __name__ == "__main__":
    main()
