"""Benchmark the reference host against a bare WebOb app on the same server.

    python -m bench.run --backend sqlite|postgresql [--quick] [--targets-only] [--scale]
                        [--json out.json]

Starts ``keypairs-api --config-file`` in subprocesses (gunicorn and waitress,
``[api] threads``) on a fresh SQLite file or a fresh PostgreSQL database (created
here, dropped at the end), and ``bench/hello.py`` on the same server with
the same threads.  For each operation it measures sequential keep-alive
latency (median, p99) on one persistent connection, and throughput with
several client processes each holding a keep-alive connection; each median
is also given as a ratio to the hello app's median in the same run.

Every loop is bounded both in requests and in seconds.  This module runs the
whole; ``operations`` says what is sent, ``measure`` how it is timed,
``processes`` and ``database`` what is served, ``scale`` the scale run and
``report`` the targets and tables.  See doc/source/performance.rst for the
method and the figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import shutil
import tempfile
from typing import Any

from bench.database import Database, load_fixtures
from bench.measure import (
    CLIENTS,
    FULL,
    QUICK,
    Profile,
    client_pool,
    compare_throughput,
    generation_distribution,
    hello_row,
    measure_all,
    sequential,
    throughput,
)
from bench.operations import (
    EXTENDED,
    EXTENDED_GENERATE,
    KP,
    Op,
    create_server,
    extended_public_keys,
    public_keys,
)
from bench.processes import SECRET, THREADS, BareApp, Host
from bench.report import above_floor, machine, print_table, targets
from bench.scale import scale

#: concurrent clients of the throughput target against the floor
FLOOR_CLIENTS = 16
#: what --targets-only measures (with hello and the 16-client throughput)
TARGET_OPERATIONS = (
    "floor read",
    "show",
    "list-10",
    "floor write",
    "import ed25519",
    "generate ed25519",
)
#: the keypair that show reads, and its owner (the fixtures of load_fixtures)
SHOWN_USER, SHOWN_NAME = "bench-show", "show-00000"


def floor_write(port: int, public_key: str) -> Op:
    """The floor app's import: the store's durable create and nothing else (bench.floor_app)."""
    return Op(
        "floor write",
        "import",
        port,
        "/",
        expect=201,
        params={"prefix": "floor", "public_key": public_key},
    )


def floor_read(port: int) -> Op:
    """The floor app's show: the store's read of show's keypair and nothing else."""
    return Op("floor read", "get", port, f"/?user={SHOWN_USER}&name={SHOWN_NAME}")


def compatible_ops(
    host: Host, floor: BareApp, keys: dict[str, str], pools: dict[str, list[str]], server_id: str
) -> list[Op]:
    """The compatible API's operations, on the fixtures of ``load_fixtures``,
    the floor app's bare read of show's keypair just before show, and its bare
    write of the same import body just before the imports."""
    from keypairs_ext.host.metadata import sign

    p = host.port
    ops = [
        floor_read(floor.port),
        Op("show", "get", p, f"{KP}/{SHOWN_NAME}", token=f"{SHOWN_USER}:bench"),
        Op("list-10", "get", p, f"{KP}?limit=1000", token="bench-list10:bench"),
        Op("list-100", "get", p, f"{KP}?limit=1000", token="bench-list100:bench"),
        Op("list-1000", "get", p, f"{KP}?limit=1000", token="bench-list1000:bench"),
        Op(
            "list-page50 (marker)",
            "get",
            p,
            f"{KP}?limit=50&marker=kp-00499",
            token="bench-list1000:bench",
        ),
    ]
    ops.append(floor_write(floor.port, keys["ed25519"]))
    for label, text in keys.items():
        ops.append(
            Op(
                f"import {label}",
                "import",
                p,
                KP,
                token=f"bench-import-{label}:bench",
                expect=201,
                params={"prefix": "imp", "public_key": text},
            )
        )
    ops.append(
        Op(
            "generate ed25519",
            "generate",
            p,
            KP,
            token="bench-gen:bench",
            version="2.91",
            expect=201,
            params={"prefix": "gen-ed25519"},
        )
    )
    ops += [
        Op(
            "delete",
            "delete",
            p,
            KP,
            token="bench-delete:bench",
            expect=204,
            params={"pools": pools},
        ),
        Op(
            "server create",
            "server",
            p,
            "/v2.1/servers",
            token="bench-server:bench",
            expect=202,
        ),
        Op(
            "server create key_name",
            "server",
            p,
            "/v2.1/servers",
            token="bench-server:bench",
            expect=202,
            params={"key_name": "srv-00000"},
        ),
        Op(
            "metadata meta_data.json",
            "get",
            host.metadata_port,
            "/openstack/latest/meta_data.json",
            version=None,
            headers={
                "X-Instance-ID": server_id,
                "X-Instance-ID-Signature": sign(server_id, SECRET),
            },
        ),
    ]
    return ops


def extended_ops(
    port: int,
    profile: Profile,
    pool: concurrent.futures.Executor,
    hello: Op,
    hello_rps: float,
    results: dict[str, Any],
) -> list[Op]:
    """Import per input format, validate-only and generation through the extended contract.

    Cheap operations get at most 1,000 requests or half the sequential time
    of the compatible ones, and two thirds of their throughput time (enough
    for a stable median, and the run stays short); the slow generations (RSA,
    passphrase KDFs) at most 60 requests.
    """
    short = dataclasses.replace(
        profile,
        seq_requests=min(profile.seq_requests, 1000),
        seq_seconds=profile.seq_seconds / 2,
        conc_seconds=profile.conc_seconds * 2 / 3,
    )
    slow = dataclasses.replace(
        profile,
        seq_requests=min(profile.seq_requests, 60),
        warmup=3,
        conc_seconds=profile.conc_seconds * 2 / 3,
    )
    keys = extended_public_keys()
    ops = [
        Op(
            f"ext import {label}",
            "extended",
            port,
            KP,
            token="bench-ext-import:bench",
            version=EXTENDED,
            expect=201,
            params={"prefix": "ext-" + label.replace(" ", "-"), "fields": {"public_key": text}},
        )
        for label, text in keys.items()
    ]
    ops.append(
        Op(
            "ext validate ed25519",
            "validate",
            port,
            KP + "/validate",
            token="bench-ext-import:bench",
            version=EXTENDED,
            params={"fields": {"public_key": keys["openssh ed25519"]}},
        )
    )
    measure_all(pool, ops, short, hello, hello_rps, results)
    generate = []
    for label, fields, is_slow in EXTENDED_GENERATE:
        op = Op(
            label,
            "extended",
            port,
            KP,
            token="bench-ext-gen:bench",
            version=EXTENDED,
            expect=201,
            params={"prefix": label.replace(" ", "-").replace("+", "-"), "fields": fields},
        )
        measure_all(pool, [op], slow if is_slow else short, hello, hello_rps, results)
        generate.append(op)
    return ops + generate


def generation_by_algorithm(
    args: argparse.Namespace,
    workdir: str,
    database: Database,
    fsync: bool,
    profile: Profile,
    pool: concurrent.futures.Executor,
    hello_op: Op,
    hello_rps: float,
    results: dict[str, Any],
) -> None:
    """Generation, one host per further algorithm (same database)."""
    algorithms = ["rsa", "ecdsa-p256"] + ([] if args.quick else ["ecdsa-p384", "ecdsa-p521"])
    for algorithm in algorithms:
        extra = Host(workdir, database.url, algorithm, algorithm, fsync)
        try:
            label = "rsa-2048" if algorithm == "rsa" else algorithm
            op = Op(
                f"generate {label}",
                "generate",
                extra.port,
                KP,
                token="bench-gen:bench",
                version="2.91",
                expect=201,
                params={"prefix": f"gen-{algorithm}"},
            )
            slow = dataclasses.replace(
                profile,
                seq_requests=min(profile.seq_requests, 200 if algorithm == "rsa" else 2000),
                warmup=3 if algorithm == "rsa" else profile.warmup,
            )
            measure_all(pool, [op], slow, hello_op, hello_rps, results)
            if algorithm == "rsa":
                # Back to back, the requests above drain [keypairs] rsa_pool_size
                # (4) at once; here each follows a pause in which the pool refills.
                paced = dataclasses.replace(
                    op,
                    name="generate rsa-2048 (paced 0.5s)",
                    params={**op.params, "prefix": "gen-rsa-paced", "pause": 0.5},
                )
                paced_profile = dataclasses.replace(slow, seq_requests=20 if args.quick else 30)
                measure_all(pool, [paced], paced_profile, hello_op, hello_rps, results)
        finally:
            extra.stop()


def delete_pools(names_prefix: str, profile: Profile) -> dict[str, list[str]]:
    pools = {"warmseq": [f"{names_prefix}-w{i:05d}" for i in range(profile.warmup)]}
    pools["seq"] = [f"{names_prefix}-s{i:05d}" for i in range(profile.seq_requests)]
    for k in range(CLIENTS):
        pools[f"c{k}"] = [f"{names_prefix}-c{k}-{i:05d}" for i in range(profile.conc_requests)]
    return pools


def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = QUICK if args.quick else FULL
    workdir = tempfile.mkdtemp(prefix="keypairs-bench-")
    fsync = not args.no_fsync
    database = Database(args.backend, workdir, fsync)
    processes: list[Any] = []
    report: dict[str, Any] = {
        "backend": args.backend,
        "mode": ("quick" if args.quick else "full")
        + (", targets only" if args.targets_only else ""),
        "commit": "durable (fsync)" if fsync else "no fsync wait (diagnostic)",
        "machine": machine(),
        "server": {"wsgi": "gunicorn+waitress", "threads": THREADS, "workers": 1},
        "clients": CLIENTS,
        "results": {},
    }
    pool = client_pool(CLIENTS)
    try:
        report["loadavg_start"] = os.getloadavg()
        report["database"] = database.server_version()
        print(f"backend {args.backend} ({report['database']}), workdir {workdir}", flush=True)
        hello = BareApp()
        processes.append(hello)
        host = Host(workdir, database.url, "ed25519", "main", fsync)
        processes.append(host)
        floor = BareApp("bench.floor_app", host.config)  # after the host has migrated
        processes.append(floor)
        keys = public_keys()
        key_text = keys["ed25519"]
        pools = delete_pools("del", profile)
        load_fixtures(database.engine, key_text, pools)  # the host has migrated it
        server_id = create_server(host.port, "bench-server:bench", "srv-00000")

        hello_op = Op("hello", "get", hello.port, "/", version=None)
        print("measuring", flush=True)
        results = report["results"]
        seq = sequential(hello_op, profile)
        conc = throughput(pool, hello_op, profile)
        results["hello"] = {**seq, **conc, "ratio": 1.0, "rps_ratio": 1.0}
        hello_median, hello_rps = seq["median_ms"], conc["rps"]
        print(
            f"  {'hello':<22} median {hello_median:8.3f} ms  p99 {seq['p99_ms']:8.3f} ms  "
            f"x  1.00  {hello_rps:8.1f} req/s",
            flush=True,
        )
        ops = compatible_ops(host, floor, keys, pools, server_id)
        if args.targets_only:
            ops = [op for op in ops if op.name in TARGET_OPERATIONS]
        measure_all(pool, ops, profile, hello_op, hello_rps, results)
        print(f"throughput at {FLOOR_CLIENTS} clients, floor write and import alternating")
        report["floor_throughput"] = compare_throughput(
            [op for op in ops if op.name in ("floor write", "import ed25519")],
            profile,
            FLOOR_CLIENTS,
        )
        for name, row in report["floor_throughput"].items():
            runs = ", ".join(f"{rps:.1f}" for rps in row["rps_runs"])
            print(f"  {name:<30} {row['rps']:8.1f} req/s (runs {runs})", flush=True)
        hello_runs = [seq]
        if not args.targets_only:
            ops += extended_ops(host.port, profile, pool, hello_op, hello_rps, results)
            hello_runs.append(sequential(hello_op, profile))
            generation_by_algorithm(
                args, workdir, database, fsync, profile, pool, hello_op, hello_rps, results
            )

        # hello's own row: its runs at the start, in the middle and at the end.
        hello_runs.append(sequential(hello_op, profile))
        hello_median = hello_row(results, hello_runs)
        print(
            "hello medians "
            + ", ".join(f"{r['median_ms']:.3f}" for r in hello_runs)
            + f" ms (row: {hello_median:.3f} ms); each ratio is to the hello requests "
            "interleaved with that operation's",
            flush=True,
        )

        report["memory"] = {"api_worker": host.rss(), "hello": hello.rss()}
        print(
            f"memory: api worker {report['memory']['api_worker']}, hello "
            f"{report['memory']['hello']}",
            flush=True,
        )

        if args.scale:
            report["scale"] = scale(
                profile, database, host, pool, ops, key_text, hello_op, hello_rps
            )
            report["memory"]["api_worker_after_scale"] = host.rss()

        if not args.targets_only:
            print("in-process key generation", flush=True)
            report["generation"] = generation_distribution(profile.gen_samples)
        report["targets"] = targets(results, report["floor_throughput"])
        report["above_floor"] = above_floor(results)
        report["loadavg_end"] = os.getloadavg()
    finally:
        for process in reversed(processes):
            process.stop()
        pool.shutdown()
        database.drop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="fewer and shorter measurements")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="then load 1,000,000 keypairs and measure again, with query plans",
    )
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="diagnostic: commits do not wait for the disk (SQLite synchronous=OFF, "
        "PostgreSQL synchronous_commit=off on the bench database)",
    )
    parser.add_argument(
        "--targets-only",
        action="store_true",
        help="measure only what the targets need: hello, "
        + ", ".join(TARGET_OPERATIONS)
        + f", and the throughput at {FLOOR_CLIENTS} clients",
    )
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    report = run(args)
    print_table(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=str)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
