"""Benchmark the reference host against a bare WebOb app on the same server.

    python -m bench.run --backend sqlite|postgresql [--quick] [--scale] [--json out.json]

Starts ``keypairs-api --config-file`` in subprocesses (cheroot, ``[api]
threads``) on a fresh SQLite file or a fresh PostgreSQL database (created
here, dropped at the end), and ``bench/hello.py`` on the same server with
the same threads.  For each operation it measures sequential keep-alive
latency (median, p99) on one persistent connection, and throughput with
several client processes each holding a keep-alive connection; each median
is also given as a ratio to the hello app's median in the same run.

Every loop is bounded both in requests and in seconds.  See
doc/source/performance.rst for the method and the figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import sqlalchemy as sa

from bench import load

POSTGRESQL_SERVER = os.environ.get(
    "KEYPAIRS_BENCH_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
VERSION = "2.92"
THREADS = 16
CLIENTS = 4
PAIRED_BLOCK = 25  # requests per block when hello and an operation alternate
SECRET = "bench-metadata-secret"


@dataclasses.dataclass(frozen=True)
class Profile:
    seq_requests: int  # most requests of one sequential measurement
    seq_seconds: float  # and most seconds
    warmup: int
    conc_seconds: float  # length of one throughput measurement
    conc_requests: int  # most requests per client process
    gen_samples: int  # in-process RSA generation samples
    scale_users: int
    scale_per_user: int


FULL = Profile(2000, 8.0, 50, 3.0, 3000, 200, 10_000, 100)
QUICK = Profile(300, 2.0, 20, 1.0, 600, 40, 10_000, 100)


# --- requests ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Op:
    """One kind of request, buildable in any process."""

    name: str
    kind: str  # get | import | generate | extended | validate | delete | server
    port: int
    path: str = "/"
    token: str = "bench:bench"
    version: str | None = VERSION
    expect: int = 200
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def build(op: Op, tag: str, i: int) -> tuple[str, str, bytes | None, dict[str, str]] | None:
    """The i-th request of ``op`` for client ``tag``; None when out of work."""
    headers = {"X-Auth-Token": op.token, **op.headers}
    if op.version:
        headers["OpenStack-API-Version"] = f"compute {op.version}"
    if op.kind == "get":
        return "GET", op.path, None, headers
    headers["Content-Type"] = "application/json"
    if op.kind == "import":
        body = {
            "keypair": {
                "name": f"{op.params['prefix']}-{tag}-{i}",
                "public_key": op.params["public_key"],
                "type": "ssh",
            }
        }
        return "POST", op.path, json.dumps(body).encode(), headers
    if op.kind == "generate":
        body = {"keypair": {"name": f"{op.params['prefix']}-{tag}-{i}", "type": "ssh"}}
        return "POST", op.path, json.dumps(body).encode(), headers
    if op.kind == "extended":
        # A create through the extended contract: generation options or a public key.
        keypair = {"name": f"{op.params['prefix']}-{tag}-{i}", **op.params["fields"]}
        return "POST", op.path, json.dumps({"keypair": keypair}).encode(), headers
    if op.kind == "validate":
        return "POST", op.path, json.dumps({"keypair": op.params["fields"]}).encode(), headers
    if op.kind == "delete":
        pool = op.params["pools"][tag]
        if i >= len(pool):
            return None
        return "DELETE", f"{op.path}/{pool[i]}", None, headers
    if op.kind == "server":
        server = {"name": f"srv-{tag}-{i}", "flavorRef": "1", "imageRef": "cirros"}
        if op.params.get("key_name"):
            server["key_name"] = op.params["key_name"]
        return "POST", op.path, json.dumps({"server": server}).encode(), headers
    raise ValueError(op.kind)


class UnexpectedStatus(RuntimeError):
    pass


def _send(conn: http.client.HTTPConnection, request: tuple, expect: int) -> None:
    method, path, body, headers = request
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != expect:
        raise UnexpectedStatus(f"{method} {path}: {response.status} {data[:300]!r}")


def sequential(
    op: Op, profile: Profile, tag: str = "seq", paired: Op | None = None
) -> dict[str, Any]:
    """Latency on one keep-alive connection: warm-up, then timed requests.

    With ``paired`` (the hello app), blocks of ``PAIRED_BLOCK`` timed requests
    to ``paired`` (on a connection of its own) alternate with blocks of the
    operation's, so that both medians come from the same seconds of the
    machine's life.  Blocks rather than single requests: alternating one by
    one would hand each server caches the other had just cooled.
    """
    conn = http.client.HTTPConnection("127.0.0.1", op.port, timeout=60)
    pair_conn = http.client.HTTPConnection("127.0.0.1", paired.port, timeout=60) if paired else None
    perf = time.perf_counter
    for i in range(profile.warmup):
        request = build(op, "warm" + tag, i)
        if request is None:
            break
        _send(conn, request, op.expect)
    samples = []
    pair_samples = []
    pause = op.params.get("pause", 0.0)  # idle time before each request (not counted)
    deadline = perf() + profile.seq_seconds
    for i in range(profile.seq_requests):
        request = build(op, tag, i)
        if request is None:
            break
        if pause:
            time.sleep(pause)
        if paired and pair_conn and i % PAIRED_BLOCK == 0:
            for j in range(PAIRED_BLOCK):
                pair_request = build(paired, tag, i + j)
                assert pair_request is not None  # hello never runs out
                start = perf()
                _send(pair_conn, pair_request, paired.expect)
                pair_samples.append(perf() - start)
        start = perf()
        _send(conn, request, op.expect)
        end = perf()
        samples.append(end - start)
        if end + pause > deadline and len(samples) >= 5:
            break
    conn.close()
    summary = summarise(samples)
    if pair_conn:
        pair_conn.close()
        summary["paired_hello_median_ms"] = statistics.median(pair_samples) * 1000
    return summary


def summarise(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "n": n,
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(n - 1, max(0, int(round(0.99 * n)) - 1))] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


def _client(op: Op, tag: str, start_at: float, seconds: float, most: int) -> tuple[int, int, float]:
    """One throughput client: requests until its time or work runs out."""
    conn = http.client.HTTPConnection("127.0.0.1", op.port, timeout=60)
    conn.connect()
    while time.time() < start_at:
        time.sleep(0.001)
    began = time.perf_counter()
    stop = began + seconds
    done = errors = 0
    i = 0
    while done + errors < most and time.perf_counter() < stop:
        request = build(op, tag, i)
        i += 1
        if request is None:
            break
        try:
            _send(conn, request, op.expect)
            done += 1
        except UnexpectedStatus:
            errors += 1
    elapsed = time.perf_counter() - began
    conn.close()
    return done, errors, elapsed


def throughput(pool: concurrent.futures.Executor, op: Op, profile: Profile) -> dict[str, Any]:
    start_at = time.time() + 0.3
    futures = [
        pool.submit(_client, op, f"c{k}", start_at, profile.conc_seconds, profile.conc_requests)
        for k in range(CLIENTS)
    ]
    results = [f.result() for f in futures]
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    return {"clients": CLIENTS, "requests": done, "errors": errors, "rps": done / elapsed}


# --- processes -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, path: str = "/", seconds: float = 90.0, proc=None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def api_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "keypairs-api")
    if os.path.exists(script):
        return [script]
    found = shutil.which("keypairs-api")
    return [found] if found else [sys.executable, "-m", "keypairs_ext.host.cmd.api"]


QUOTA = 10_000_000  # [quota] key_pairs of the bench's hosts: room for every fixture


def write_host_config(
    path: str,
    workdir: str,
    url: str,
    algorithm: str,
    fsync: bool,
    log_file: str,
    port: int | None = None,
    metadata_port: int | None = None,
) -> None:
    """The bench's keypairs-api configuration; the servers' sections only
    with their ports (an in-process host has no server)."""
    sections = [f"[DEFAULT]\nstate_path = {workdir}\nlog_file = {log_file}\n"]
    if port is not None:
        sections.append(
            f"[api]\nbind_host = 127.0.0.1\nbind_port = {port}\nthreads = {THREADS}\nworkers = 1\n"
        )
    if metadata_port is not None:
        sections.append(
            f"[metadata]\nbind_host = 127.0.0.1\nbind_port = {metadata_port}\n"
            f"shared_secret = {SECRET}\n"
        )
    sections += [
        f"[database]\nconnection = {url}\nsqlite_synchronous = {fsync}\n",
        f"[keypairs]\ngeneration_algorithm = {algorithm}\n",
        f"[quota]\nkey_pairs = {QUOTA}\n",
    ]
    with open(path, "w") as f:
        f.write("\n".join(sections))


class Host:
    """keypairs-api in a subprocess, configured through a file, as deployed."""

    def __init__(
        self, workdir: str, url: str, algorithm: str, label: str, fsync: bool = True
    ) -> None:
        self.port = free_port()
        self.metadata_port = free_port()
        self.log = os.path.join(workdir, f"keypairs-api-{label}.log")
        self.config = os.path.join(workdir, f"keypairs-{label}.conf")
        write_host_config(
            self.config,
            workdir,
            url,
            algorithm,
            fsync,
            log_file=self.log,
            port=self.port,
            metadata_port=self.metadata_port,
        )
        self.proc = subprocess.Popen(
            api_command() + ["--config-file", self.config],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log + ".stderr", "w"),
        )
        wait_ready(self.port, proc=self.proc)

    def rss(self) -> dict[str, int]:
        return read_rss(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc)


class BareApp:
    """``python -m MODULE PORT THREADS ARGS...`` in a subprocess: a bare app of the bench."""

    def __init__(self, module: str = "bench.hello", *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, str(self.port), str(THREADS), *args],
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        wait_ready(self.port, proc=self.proc)

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_rss(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key + "_kib"] = int(value.split()[0])
    return values


# --- databases ---------------------------------------------------------------------


class Database:
    def __init__(self, backend: str, workdir: str, fsync: bool = True) -> None:
        self.backend = backend
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir}/keypairs-bench.sqlite"
            self.name = None
        else:
            server = sa.engine.make_url(POSTGRESQL_SERVER)
            self.name = f"keypairs_bench_{uuid.uuid4().hex[:10]}"
            engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {self.name}")
                if not fsync:
                    # Only this throw-away database: commits stop waiting for the WAL flush.
                    connection.exec_driver_sql(
                        f"ALTER DATABASE {self.name} SET synchronous_commit = off"
                    )
            engine.dispose()
            self.url = server.set(database=self.name).render_as_string(hide_password=False)
        self.engine = sa.create_engine(self.url)

    def drop(self) -> None:
        self.engine.dispose()
        if self.name:
            engine = sa.create_engine(POSTGRESQL_SERVER, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            engine.dispose()

    def server_version(self) -> str:
        with self.engine.connect() as connection:
            if self.backend == "sqlite":
                version = connection.exec_driver_sql("select sqlite_version()").scalar()
                return f"SQLite {version}"
            return str(connection.exec_driver_sql("show server_version").scalar()).split()[0]


# --- keys ----------------------------------------------------------------------------


def public_keys() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    keys: dict[str, Any] = {
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ecdsa-p256": ec.generate_private_key(ec.SECP256R1()),
        "rsa-2048": rsa.generate_private_key(65537, 2048),
    }
    return {
        name: key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " bench@host"
        for name, key in keys.items()
    }


def extended_public_keys() -> dict[str, str]:
    """One public key in each input format the extended import reads."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    line = ed.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    data = line.split()[1]
    rfc4716 = "\n".join(
        [
            "---- BEGIN SSH2 PUBLIC KEY ----",
            'Comment: "bench@host"',
            *(data[i : i + 70] for i in range(0, len(data), 70)),
            "---- END SSH2 PUBLIC KEY ----",
        ]
    )
    pem = serialization.Encoding.PEM
    return {
        "openssh ed25519": line + " bench@host",
        "rfc4716 ed25519": rfc4716 + "\n",
        "pem-spki ed25519": ed.public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "pkcs1 rsa-2048": rsa_key.public_bytes(pem, serialization.PublicFormat.PKCS1).decode(),
    }


# What the extended contract generates: (label, body fields, slow).  Every
# algorithm in its default format, every private key format (pem is not
# offered for ed25519, so on P-256), and the two passphrase KDFs that cost
# most by design (OpenSSH bcrypt, 16 rounds; PPK Argon2id, 8 MiB x 13 passes).
PASSPHRASE = "correct horse battery staple"
EXTENDED_GENERATE: list[tuple[str, dict[str, Any], bool]] = [
    ("ext generate ed25519", {"algorithm": "ed25519"}, False),
    ("ext generate ecdsa-p256", {"algorithm": "ecdsa-p256"}, False),
    ("ext generate ecdsa-p384", {"algorithm": "ecdsa-p384"}, False),
    ("ext generate ecdsa-p521", {"algorithm": "ecdsa-p521"}, False),
    ("ext generate rsa-2048", {"algorithm": "rsa", "bits": 2048}, True),
    ("ext gen ed25519 pkcs8", {"algorithm": "ed25519", "private_key_format": "pkcs8"}, False),
    ("ext gen ecdsa-p256 pem", {"algorithm": "ecdsa-p256", "private_key_format": "pem"}, False),
    ("ext gen ed25519 ppk", {"algorithm": "ed25519", "private_key_format": "ppk"}, False),
    (
        "ext gen ed25519 openssh+pass",
        {"algorithm": "ed25519", "private_key_format": "openssh", "passphrase": PASSPHRASE},
        True,
    ),
    (
        "ext gen ed25519 ppk+pass",
        {"algorithm": "ed25519", "private_key_format": "ppk", "passphrase": PASSPHRASE},
        True,
    ),
]


def generation_distribution(samples: int) -> dict[str, Any]:
    """In-process cost of key generation, per algorithm (as the API calls it)."""
    from keypairs_ext import crypto

    out = {}
    for algorithm, count in (("rsa", samples), ("ed25519", samples), ("ecdsa-p256", samples)):
        times = []
        for _ in range(count):
            start = time.perf_counter()
            crypto.generate_ssh_keypair(
                algorithm=algorithm,
                bits=2048 if algorithm == "rsa" else None,
                private_key_format="pem" if algorithm == "rsa" else "openssh",
            )
            times.append(time.perf_counter() - start)
        summary = summarise(times)
        summary["max_ms"] = max(times) * 1000
        out[algorithm + ("-2048" if algorithm == "rsa" else "")] = summary
    return out


# --- the run -------------------------------------------------------------------------

KP = "/v2.1/os-keypairs"


def measure_all(
    pool: concurrent.futures.Executor,
    ops: list[Op],
    profile: Profile,
    hello: Op,
    hello_rps: float,
    results: dict[str, Any],
) -> None:
    """Measure each op; its ratio is to hello's median in the same seconds."""
    for op in ops:
        t0 = time.time()
        seq = sequential(op, profile, paired=hello)
        # A paced operation measures latency between bursts: no throughput.
        conc = {"rps": None} if op.params.get("pause") else throughput(pool, op, profile)
        row = {**seq, **conc}
        row["ratio"] = seq["median_ms"] / seq["paired_hello_median_ms"]
        row["rps_ratio"] = hello_rps / conc["rps"] if conc["rps"] else None
        row["loadavg"] = os.getloadavg()[0]
        results[op.name] = row
        rps = f"{conc['rps']:8.1f}" if conc["rps"] else f"{'-':>8}"
        print(
            f"  {op.name:<30} median {seq['median_ms']:8.3f} ms  p99 {seq['p99_ms']:8.3f} ms  "
            f"x{row['ratio']:6.2f}  {rps} req/s  load {row['loadavg']:.2f}  "
            f"({time.time() - t0:.1f}s)",
            flush=True,
        )


EXTENDED = f"{VERSION}, keypairs 1.0"  # build() prefixes "compute "


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
        "mode": "quick" if args.quick else "full",
        "commit": "durable (fsync)" if fsync else "no fsync wait (diagnostic)",
        "machine": machine(),
        "server": {"wsgi": "cheroot", "threads": THREADS, "workers": 1},
        "clients": CLIENTS,
        "results": {},
    }
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(CLIENTS, mp_context=context)
    try:
        report["loadavg_start"] = os.getloadavg()
        report["database"] = database.server_version()
        print(f"backend {args.backend} ({report['database']}), workdir {workdir}", flush=True)
        hello = BareApp()
        processes.append(hello)
        host = Host(workdir, database.url, "ed25519", "main", fsync)
        processes.append(host)
        keys = public_keys()
        key_text = keys["ed25519"]

        # Fixtures straight into the database (the host has migrated it).
        fixtures = [("bench-list10", 10), ("bench-list100", 100), ("bench-list1000", 1000)]
        for user, count in fixtures:
            load.insert(database.engine, load.rows_for([user], count, key_text))
        load.insert(database.engine, load.rows_for(["bench-show"], 1, key_text, "show"))
        pools = delete_pools("del", profile)
        load.insert(
            database.engine,
            (
                (u, n, load.fingerprint(n), key_text, "ssh", row_time())
                for u, names in (("bench-delete", sum(pools.values(), [])),)
                for n in names
            ),
        )
        load.insert(database.engine, load.rows_for(["bench-server"], 1, key_text, "srv"))

        # A server with a key, for the metadata fetch.
        conn = http.client.HTTPConnection("127.0.0.1", host.port)
        conn.request(
            "POST",
            "/v2.1/servers",
            json.dumps(
                {
                    "server": {
                        "name": "md",
                        "flavorRef": "1",
                        "imageRef": "x",
                        "key_name": "srv-00000",
                    }
                }
            ),
            {
                "X-Auth-Token": "bench-server:bench",
                "Content-Type": "application/json",
                "OpenStack-API-Version": f"compute {VERSION}",
            },
        )
        response = conn.getresponse()
        server_id = json.loads(response.read())["server"]["id"]
        conn.close()
        from keypairs_ext.host.metadata import sign

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
        p = host.port
        ops = [
            Op("show", "get", p, f"{KP}/show-00000", token="bench-show:bench"),
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
        measure_all(pool, ops, profile, hello_op, hello_rps, results)
        ops += extended_ops(p, profile, pool, hello_op, hello_rps, results)
        hello_runs = [seq, sequential(hello_op, profile)]

        # Generation, one host per further algorithm (same database).
        algorithms = ["rsa", "ecdsa-p256"] + ([] if args.quick else ["ecdsa-p384", "ecdsa-p521"])
        for algorithm in algorithms:
            extra = Host(workdir, database.url, algorithm, algorithm, fsync)
            processes.append(extra)
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
                measure_all(
                    pool,
                    [paced],
                    dataclasses.replace(slow, seq_requests=20 if args.quick else 30),
                    hello_op,
                    hello_rps,
                    results,
                )
            extra.stop()
            processes.remove(extra)

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

        report["memory"] = {"api_worker": host.rss(), "hello": read_rss(hello.proc.pid)}
        print(
            f"memory: api worker {report['memory']['api_worker']}, hello "
            f"{report['memory']['hello']}",
            flush=True,
        )

        if args.scale:
            report["scale"] = scale(
                args, profile, database, host, pool, ops, key_text, hello_op, hello_rps
            )
            report["memory"]["api_worker_after_scale"] = host.rss()

        print("in-process key generation", flush=True)
        report["generation"] = generation_distribution(profile.gen_samples)
        report["targets"] = targets(results)
        report["loadavg_end"] = os.getloadavg()
    finally:
        for process in reversed(processes):
            process.stop()
        pool.shutdown()
        database.drop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def hello_row(results: dict[str, Any], hello_runs: list[dict[str, Any]]) -> float:
    """hello's row from its separate runs (the median of their medians)."""
    median = statistics.median(r["median_ms"] for r in hello_runs)
    results["hello"].update(
        median_ms=median,
        p99_ms=statistics.median(r["p99_ms"] for r in hello_runs),
        runs_median_ms=[r["median_ms"] for r in hello_runs],
    )
    return median


def row_time():
    import datetime

    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def scale(args, profile, database, host, pool, ops, key_text, hello_op, hello_rps):
    users = [f"scale-user-{i:05d}" for i in range(profile.scale_users)]
    total = profile.scale_users * profile.scale_per_user
    print(f"scale: loading {total} keypairs for {len(users)} users", flush=True)
    start = time.time()
    load.insert(database.engine, load.rows_for(users, profile.scale_per_user, key_text))
    load.analyze(database.engine)
    loaded = time.time() - start
    with database.engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM key_pairs").scalar()
        usage = connection.exec_driver_sql("SELECT sum(in_use) FROM key_pair_usages").scalar()
    print(f"scale: {count} rows (usage sum {usage}) in {loaded:.1f}s", flush=True)
    results: dict[str, Any] = {}
    wanted = {"show", "list-10", "import ed25519"}
    again = [
        dataclasses.replace(op, params={**op.params, "prefix": "imp-scale"})
        if op.kind == "import"
        else op
        for op in ops
        if op.name in wanted
    ]
    middle = users[len(users) // 2]
    again.append(
        Op("show (scale user)", "get", host.port, f"{KP}/kp-00050", token=f"{middle}:bench")
    )
    again.append(
        Op(
            "list-10 (scale user, limit=10)",
            "get",
            host.port,
            f"{KP}?limit=10",
            token=f"{middle}:bench",
        )
    )
    measure_all(pool, again, profile, hello_op, hello_rps, results)
    captured = load.hot_path_statements(
        database.url, middle, [f"kp-{i:05d}" for i in range(profile.scale_per_user)]
    )
    plans = load.explain(database.url, captured)
    captured_meta = [
        (
            "metadata / server lookup by id",
            "SELECT * FROM instances WHERE instances.id = "
            + ("%(id)s" if database.backend == "postgresql" else "?"),
            {"id": "x"} if database.backend == "postgresql" else ("x",),
        )
    ]
    plans += load.explain(database.url, captured_meta)
    for plan in plans:
        print(f"  EXPLAIN [{plan['operation']}] {plan['statement'][:110]}")
        for line in plan["plan"]:
            print(f"      {line}")
    return {
        "rows": count,
        "users": len(users) + 0,
        "load_seconds": loaded,
        "results": results,
        "explain": plans,
        "full_scans": [p["statement"] for p in plans if p["full_scan"]],
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    def ratio(name):
        return results[name]["ratio"]

    checks = [
        ("show <= 3x hello", ratio("show"), 3.0),
        ("list-10 <= 3x hello", ratio("list-10"), 3.0),
        ("import ed25519 <= 4x hello", ratio("import ed25519"), 4.0),
        ("import ecdsa-p256 <= 4x hello", ratio("import ecdsa-p256"), 4.0),
        ("import rsa-2048 <= 4x hello", ratio("import rsa-2048"), 4.0),
        ("generate ed25519 <= 5x hello", ratio("generate ed25519"), 5.0),
        ("ext generate ed25519 <= 5x hello", ratio("ext generate ed25519"), 5.0),
        ("ext import openssh ed25519 <= 4x hello", ratio("ext import openssh ed25519"), 4.0),
        ("list-1000 <= 25 ms", results["list-1000"]["median_ms"], 25.0),
        (
            "server create key_name - without <= 1 ms",
            results["server create key_name"]["median_ms"] - results["server create"]["median_ms"],
            1.0,
        ),
    ]
    return [{"target": t, "value": v, "limit": lim, "met": v <= lim} for t, v, lim in checks]


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except OSError:
        mem_kib = 0
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def print_table(report: dict[str, Any]) -> None:
    print()
    print(
        f"backend {report['backend']} ({report.get('database')}), {report['mode']}, "
        f"commits {report['commit']}, "
        f"cheroot {report['server']['threads']} threads, {report['clients']} clients, "
        f"{report['machine']['cores']} cores, load average at start "
        f"{report['loadavg_start'][0]:.2f} and end {report.get('loadavg_end', (0.0,))[0]:.2f}"
    )
    header = (
        f"{'operation':<32}{'n':>6}{'median ms':>11}{'p99 ms':>10}{'hello ms':>10}"
        f"{'x hello':>9}{'req/s':>10}{'hello/op':>10}"
    )

    def table(rows):
        print(header)
        print("-" * len(header))
        for name, r in rows.items():
            rps_ratio = f"{r['rps_ratio']:10.2f}" if r.get("rps_ratio") else f"{'-':>10}"
            rps = f"{r['rps']:>10.1f}" if r.get("rps") else f"{'-':>10}"
            paired = r.get("paired_hello_median_ms", r["median_ms"])
            print(
                f"{name:<32}{r['n']:>6}{r['median_ms']:>11.3f}{r['p99_ms']:>10.3f}"
                f"{paired:>10.3f}{r['ratio']:>9.2f}{rps}{rps_ratio}"
            )

    table(report["results"])
    print()
    for t in report.get("targets", []):
        print(f"  [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']:.2f}")
    memory = report.get("memory", {})
    if memory:
        print(f"  RSS api worker: {memory['api_worker']}; hello: {memory['hello']}")
        if "api_worker_after_scale" in memory:
            print(f"  RSS api worker after scale: {memory['api_worker_after_scale']}")
    generation = report.get("generation")
    if generation:
        print(
            "  in-process generation: "
            + "; ".join(
                f"{k} median {v['median_ms']:.2f} ms p99 {v['p99_ms']:.2f} ms "
                f"max {v['max_ms']:.2f} ms"
                for k, v in generation.items()
            )
        )
    if "scale" in report:
        s = report["scale"]
        print(
            f"\nscale: {s['rows']} keypairs, {s['users']} users (+ bench users), "
            f"loaded in {s['load_seconds']:.1f}s"
        )
        table(s["results"])
        print(f"  full scans in hot-path plans: {s['full_scans'] or 'none'}")


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
