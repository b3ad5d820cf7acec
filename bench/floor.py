"""The floor under a served import: the same durable write with no API around it.

    python -m bench.floor --backend sqlite|postgresql [--no-fsync] [--rounds N]

Serves three apps on the same WSGI server with the same threads: the hello
app, ``keypairs-api`` (as ``bench.run`` starts it), and ``bench.floor_app``,
a bare WebOb app that reads the JSON body, runs the keypair store's create
(the same statements, driver and connection pool as the API, with a
precomputed fingerprint and a user of its own) and answers with JSON.  It
times sequential imports through both, each interleaved with hello in
blocks as ``bench.run`` does, and prints their medians as ratios to hello.

The bare write's ratio is the floor that no amount of API work removed can
go below on this machine; the import's distance above it is what the API
itself adds (authentication, microversions, validation, key parsing,
policy, the audit log line, the view).  A diagnostic, like ``bench.run``:
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

from bench.database import Database
from bench.measure import FULL, sequential
from bench.operations import KP, Op, public_keys
from bench.processes import BareApp, Host


def measure(args: argparse.Namespace) -> None:
    workdir = tempfile.mkdtemp(prefix="keypairs-floor-")
    fsync = not args.no_fsync
    database = Database(args.backend, workdir, fsync)
    processes: list[Any] = []
    try:
        print(f"backend {args.backend} ({database.server_version()}), commits durable: {fsync}")
        hello = BareApp()
        processes.append(hello)
        host = Host(workdir, database.url, "ed25519", "floor", fsync)  # migrates the database
        processes.append(host)
        floor = BareApp("bench.floor_app", host.config)
        processes.append(floor)
        key = public_keys()["ed25519"]
        hello_op = Op("hello", "get", hello.port, "/", version=None)
        imports = {"bare durable write": (floor.port, "/"), "import ed25519 (API)": (host.port, KP)}
        ratios: dict[str, list[float]] = {label: [] for label in imports}
        for round_number in range(args.rounds):
            for label, (port, path) in imports.items():
                params = {"prefix": f"r{round_number}", "public_key": key}
                op = Op(label, "import", port, path, expect=201, params=params)
                result = sequential(op, FULL, paired=hello_op)
                hello_ms = result["paired_hello_median_ms"]
                ratios[label].append(result["median_ms"] / hello_ms)
                print(
                    f"  {label:<22} median {result['median_ms']:6.3f} ms  "
                    f"hello {hello_ms:6.3f} ms  x {ratios[label][-1]:5.2f}",
                    flush=True,
                )
        print(
            "; ".join(f"{label} x {min(r):.2f}-{max(r):.2f} hello" for label, r in ratios.items())
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
    measure(parser.parse_args(argv))


if __name__ == "__main__":
    main()
