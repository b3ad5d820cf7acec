"""The bare baseline: a WebOb "hello" app served as the reference host is.

``python -m bench.hello PORT THREADS`` serves it on 127.0.0.1:PORT with the
same WSGI server and thread count as the reference host, so that the
benchmark's ratios measure what the host adds, not what the server costs.
``serve`` serves the benchmark's other bare apps the same way.
"""

from __future__ import annotations

import sys
from typing import Any

import webob

from keypairs_ext.host import server

BODY = b'{"hello": "world"}'


def application(environ: dict, start_response):
    request = webob.Request(environ)
    response = webob.Response(body=BODY, content_type="application/json", charset="UTF-8")
    return response(request.environ, start_response)


def serve(app: Any, port: int, threads: int, name: str) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` until SIGTERM or SIGINT, in one
    worker process with ``threads`` threads (the host's other defaults)."""
    listener = server.Listener(f"127.0.0.1:{port}", app, name)
    server.serve([listener], {"workers": 1, "threads": threads})


def main() -> None:
    serve(application, int(sys.argv[1]), int(sys.argv[2]), "bench-hello")


if __name__ == "__main__":
    main()
