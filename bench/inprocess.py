"""Time requests through the host's WSGI stack in process, without a server.

    python -m bench.inprocess --backend sqlite|postgresql [--no-fsync] [--profile OPERATION]

Builds the host from a configuration file as ``keypairs-api`` does (oslo.log
writing to a file, the migrations applied), then calls the WSGI application
directly: 300 warm-up requests and 3,000 timed ones per operation, one at a
time.  Prints each operation's median.  With ``--profile``, runs that
operation under cProfile instead and prints the 40 most expensive calls.

The figures show what the host itself costs; a served request adds the
server's and the network's share, and runs colder (see the performance
page).  Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.run import POSTGRESQL_SERVER, VERSION, Database, public_keys

WARMUP = 300
TIMED = 3000
TOKEN = "inprocess:bench"


def build_api(database_url: str, workdir: str, fsync: bool) -> Any:
    from keypairs_ext.host import app
    from keypairs_ext.host.cmd.api import _migrate_in_child

    config = os.path.join(workdir, "keypairs.conf")
    with open(config, "w") as f:
        f.write(
            f"[DEFAULT]\nstate_path = {workdir}\nlog_file = {workdir}/keypairs-api.log\n"
            f"[database]\nconnection = {database_url}\nsqlite_synchronous = {fsync}\n"
            "[keypairs]\ngeneration_algorithm = ed25519\n"
            "[quota]\nkey_pairs = 10000000\n"
        )
    conf = app.make_conf_for_service(["--config-file", config])
    _migrate_in_child(conf)
    return app.build(conf).api


def caller(api: Any, method: str, path: str, version: str) -> Callable[..., None]:
    """A function that sends one request (with an optional JSON body)."""

    def call(body: Any = None) -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8774",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(raw),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": "application/json",
            "HTTP_X_AUTH_TOKEN": TOKEN,
            "HTTP_OPENSTACK_API_VERSION": f"compute {version}",
        }
        status: list[str] = []
        b"".join(api(environ, lambda s, headers, exc_info=None: status.append(s)))
        if not status[0].startswith("20"):
            raise RuntimeError(f"{method} {path}: {status[0]}")

    return call


def operations(api: Any) -> dict[str, Callable[[int], None]]:
    key = public_keys()["ed25519"]
    create = caller(api, "POST", "/v2.1/os-keypairs", VERSION)
    generate = caller(api, "POST", "/v2.1/os-keypairs", "2.91")
    show = caller(api, "GET", "/v2.1/os-keypairs/shown", VERSION)
    listing = caller(api, "GET", "/v2.1/os-keypairs", VERSION)
    create({"keypair": {"name": "shown", "public_key": key}})
    return {
        "show": lambda i: show(),
        "list": lambda i: listing(),
        "import ed25519": lambda i: create({"keypair": {"name": f"i{i}", "public_key": key}}),
        "generate ed25519": lambda i: generate({"keypair": {"name": f"g{i}", "type": "ssh"}}),
    }


def median_us(operation: Callable[[int], None], first: int) -> float:
    for i in range(first, first + WARMUP):
        operation(i)
    samples = []
    for i in range(first + WARMUP, first + WARMUP + TIMED):
        start = time.perf_counter()
        operation(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--no-fsync", action="store_true", help="SQLite: synchronous=OFF")
    parser.add_argument("--profile", metavar="OPERATION", help="cProfile one operation")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="keypairs-inprocess-")
    database = Database(args.backend, workdir, fsync=not args.no_fsync)
    try:
        ops = operations(build_api(database.url, workdir, fsync=not args.no_fsync))
        if args.profile:
            operation = ops[args.profile]
            median_us(operation, 0)  # warm up and fill the table as a timed run would
            profiler = cProfile.Profile()
            profiler.runcall(lambda: [operation(i) for i in range(10**6, 10**6 + TIMED)])
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            return
        server = POSTGRESQL_SERVER if args.backend == "postgresql" else "file"
        print(f"{args.backend} ({server}), {TIMED} timed requests after {WARMUP}")
        for n, (name, operation) in enumerate(ops.items()):
            print(f"  {name:<18} median {median_us(operation, n * 100_000):7.0f} µs", flush=True)
    finally:
        database.drop()


if __name__ == "__main__":
    main()
