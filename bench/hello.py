"""The bare baseline: a WebOb "hello" app served by cheroot.

``python -m bench.hello PORT THREADS`` serves it on 127.0.0.1:PORT with the
same WSGI server and thread count as the reference host, so that the
benchmark's ratios measure what the host adds, not what the server costs.
"""

from __future__ import annotations

import signal
import sys
import threading

import webob
from cheroot import wsgi

BODY = b'{"hello": "world"}'


def application(environ: dict, start_response):
    request = webob.Request(environ)
    response = webob.Response(body=BODY, content_type="application/json", charset="UTF-8")
    return response(request.environ, start_response)


def main() -> None:
    port, threads = int(sys.argv[1]), int(sys.argv[2])
    server = wsgi.Server(
        ("127.0.0.1", port), application, numthreads=threads, server_name="bench-hello"
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    server.prepare()
    threading.Thread(target=server.serve, daemon=True).start()
    stopping.wait()
    server.stop()


if __name__ == "__main__":
    main()
