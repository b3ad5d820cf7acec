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
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import webob

from bench.database import POSTGRESQL_SERVER, Database
from bench.operations import KP, VERSION, public_keys
from bench.processes import write_host_config

WARMUP = 300
TIMED = 3000
TOKEN = "inprocess:bench"


def build_api(database_url: str, workdir: str, fsync: bool) -> Any:
    from keypairs_ext.host import app
    from keypairs_ext.host.cmd.api import _migrate_in_child

    config = os.path.join(workdir, "keypairs.conf")
    log_file = os.path.join(workdir, "keypairs-api.log")
    write_host_config(config, workdir, database_url, "ed25519", fsync, log_file)
    conf = app.make_conf_for_service(["--config-file", config])
    _migrate_in_child(conf)
    return app.build(conf).api


def request(method: str, path: str, version: str, body: Any = None) -> dict:
    """The WSGI environ of one request, as a server would hand it over."""
    built = webob.Request.blank(path, method=method)
    built.headers["X-Auth-Token"] = TOKEN
    built.headers["OpenStack-API-Version"] = f"compute {version}"
    if body is not None:
        built.body = json.dumps(body).encode()
        built.content_type = "application/json"
    return built.environ


def operations(api: Any) -> dict[str, Callable[[int], dict]]:
    """Each operation's i-th request."""
    key = public_keys()["ed25519"]
    shown = request("POST", KP, VERSION, {"keypair": {"name": "shown", "public_key": key}})
    call(api, shown)
    return {
        "show": lambda i: request("GET", f"{KP}/shown", VERSION),
        "list": lambda i: request("GET", KP, VERSION),
        "import ed25519": lambda i: request(
            "POST", KP, VERSION, {"keypair": {"name": f"i{i}", "public_key": key}}
        ),
        "generate ed25519": lambda i: request(
            "POST", KP, "2.91", {"keypair": {"name": f"g{i}", "type": "ssh"}}
        ),
    }


def call(api: Any, environ: dict) -> None:
    status: list[str] = []
    b"".join(api(environ, lambda s, headers, exc_info=None: status.append(s)))
    if not status[0].startswith("20"):
        raise RuntimeError(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}: {status[0]}")


def median_us(api: Any, operation: Callable[[int], dict], first: int) -> float:
    """The median time of the WSGI call alone (the request is built beforehand)."""
    for i in range(first, first + WARMUP):
        call(api, operation(i))
    samples = []
    for i in range(first + WARMUP, first + WARMUP + TIMED):
        environ = operation(i)
        start = time.perf_counter()
        call(api, environ)
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
        api = build_api(database.url, workdir, fsync=not args.no_fsync)
        ops = operations(api)
        if args.profile:
            operation = ops[args.profile]
            median_us(api, operation, 0)  # warm up and fill the table as a timed run would
            environs = [operation(i) for i in range(10**6, 10**6 + TIMED)]
            profiler = cProfile.Profile()
            profiler.enable()
            for environ in environs:
                call(api, environ)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            return
        server = POSTGRESQL_SERVER if args.backend == "postgresql" else "file"
        print(f"{args.backend} ({server}), {TIMED} timed requests after {WARMUP}")
        for n, (name, operation) in enumerate(ops.items()):
            print(
                f"  {name:<18} median {median_us(api, operation, n * 100_000):7.0f} µs", flush=True
            )
    finally:
        database.drop()


if __name__ == "__main__":
    main()
