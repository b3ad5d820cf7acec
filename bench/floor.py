"""The floor under a served import: the same durable write with no API around it.

    python -m bench.floor --backend sqlite|postgresql [--no-fsync] [--rounds N]

Serves three apps on the same WSGI server with the same threads: the hello
app, ``keypairs-api`` (as ``bench.run`` starts it), and a bare WebOb app
that reads the JSON body, runs the keypair store's create (the same
statements, driver and connection pool as the API, with a precomputed
fingerprint and a user of its own) and answers with JSON.  It times
sequential imports through both, each interleaved with hello in blocks as
``bench.run`` does, and prints their medians as ratios to hello.

The bare write's ratio is the floor that no amount of API work removed can
go below on this machine; the import's distance above it is what the API
itself adds (authentication, microversions, validation, key parsing,
policy, the audit log line, the view).  A diagnostic, like ``bench.run``:
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any

from bench.run import (
    FULL,
    KP,
    THREADS,
    Database,
    Hello,
    Host,
    Op,
    free_port,
    public_keys,
    sequential,
    stop_process,
    wait_ready,
)

QUOTA = 10_000_000  # as bench.run's host is configured
FLOOR_USER = "bench-floor"


def floor_application(config: str) -> Any:
    """The bare write app over the store ``keypairs-api --config-file config`` uses."""
    import webob

    from keypairs_ext import crypto
    from keypairs_ext.db.api import KeypairStore
    from keypairs_ext.host import app, database

    conf = app.make_conf_for_service(["--config-file", config])
    store = KeypairStore(database.create_facade(conf), database.create_autocommit_engine(conf))
    fingerprints: dict[str, str] = {}

    def application(environ: dict, start_response: Any) -> Any:
        request = webob.Request(environ)
        if request.method != "POST":  # the readiness probe
            return webob.Response(status=204)(environ, start_response)
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
        view = {
            "keypair": {
                "name": stored.name,
                "public_key": stored.public_key,
                "fingerprint": stored.fingerprint,
                "type": stored.type,
                "user_id": stored.user_id,
            }
        }
        response = webob.Response(
            body=json.dumps(view).encode(),
            status=201,
            content_type="application/json",
            charset="UTF-8",
        )
        return response(request.environ, start_response)

    return application


def serve(config: str, port: int) -> None:
    from cheroot import wsgi

    server = wsgi.Server(
        ("127.0.0.1", port), floor_application(config), numthreads=THREADS, server_name="floor"
    )
    server.prepare()
    threading.Thread(target=server.serve, daemon=True).start()
    threading.Event().wait()  # until SIGTERM ends the process


class Floor:
    def __init__(self, config: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", "--serve", config, str(self.port)],
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        wait_ready(self.port, proc=self.proc)

    def stop(self) -> None:
        stop_process(self.proc)


def measure(args: argparse.Namespace) -> None:
    workdir = tempfile.mkdtemp(prefix="keypairs-floor-")
    fsync = not args.no_fsync
    database = Database(args.backend, workdir, fsync)
    processes: list[Any] = []
    try:
        print(f"backend {args.backend} ({database.server_version()}), commits durable: {fsync}")
        hello = Hello()
        processes.append(hello)
        host = Host(workdir, database.url, "ed25519", "floor", fsync)  # migrates the database
        processes.append(host)
        floor = Floor(host.config)
        processes.append(floor)
        key = public_keys()["ed25519"]
        hello_op = Op("hello", "get", hello.port, "/", version=None)
        rows = []
        for round_number in range(args.rounds):
            for label, port, path in (
                ("bare durable write", floor.port, "/"),
                ("import ed25519 (API)", host.port, KP),
            ):
                op = Op(
                    label,
                    "import",
                    port,
                    path,
                    expect=201,
                    params={"prefix": f"r{round_number}", "public_key": key},
                )
                result = sequential(op, FULL, paired=hello_op)
                hello_ms = result["paired_hello_median_ms"]
                rows.append((label, result["median_ms"], hello_ms))
                print(
                    f"  {label:<22} median {result['median_ms']:6.3f} ms  "
                    f"hello {hello_ms:6.3f} ms  x {result['median_ms'] / hello_ms:5.2f}",
                    flush=True,
                )
        floors = [median / hello for label, median, hello in rows if label.startswith("bare")]
        imports = [median / hello for label, median, hello in rows if label.startswith("import")]
        print(
            f"floor x {min(floors):.2f}-{max(floors):.2f} hello; "
            f"import x {min(imports):.2f}-{max(imports):.2f} hello"
        )
    finally:
        for process in reversed(processes):
            process.stop()
        database.drop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--no-fsync", action="store_true", help="commits do not wait for the disk")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", nargs=2, metavar=("CONFIG", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
    else:
        measure(args)


if __name__ == "__main__":
    main()
