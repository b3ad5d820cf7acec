"""Soak: many keep-alive clients against the reference host, with a ledger.

    python -m bench.soak [--clients 200] [--seconds 600] [--workers 2]
                         [--backend postgresql] [--json out.json] [--svg rss.svg]

Starts ``keypairs-api`` (``[api] workers``, metadata service on) on a fresh
database and drives it from loopback with ``--clients`` concurrent clients,
each on its own keep-alive connections and its own user: import, generate,
show, list, delete, server create with ``key_name``, metadata fetch of that
server, server delete.  Every client keeps a ledger of what it created and
deleted successfully.  Bounded by ``--seconds`` and ``--max-requests`` per
client.

Reports throughput, p50/p99/p99.9 per operation, errors, and each worker's
RSS every few seconds.  It holds (exit status 0) when there were no
connection errors, no 5xx and no unexpected answers, every worker's RSS
stayed within 10% of its value at the end of the warm-up, and the database
rows equal the clients' ledgers.  See doc/source/performance.rst.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import select
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from typing import Any

from bench import database as bench_database
from bench import operations, processes
from bench import report as bench_report
from keypairs_ext.host.metadata import sign

STATUSES = {
    "import": 201,
    "generate": 201,
    "show": 200,
    "list": 200,
    "delete": 204,
    "server_create": 202,
    "metadata": 200,
    "server_delete": 204,
}
# (operation, weight); an operation that needs something the client does
# not own yet falls back to an import.
MIX = [
    ("import", 16),
    ("generate", 6),
    ("show", 26),
    ("list", 16),
    ("delete", 14),
    ("server_create", 8),
    ("metadata", 10),
    ("server_delete", 4),
]
MOST_KEYPAIRS = 12  # per client: beyond it, deletes come first
MOST_SERVERS = 4
RSS_EVERY = 5.0  # seconds between RSS samples
RSS_TOLERANCE = 0.10


class Client:
    """One simulated user with two keep-alive connections and a ledger."""

    def __init__(self, index: int, api_port: int, metadata_port: int, public_key: str) -> None:
        self.user = f"soak-{os.getpid()}-{index}"
        self.api = http.client.HTTPConnection("127.0.0.1", api_port, timeout=60)
        self.metadata = http.client.HTTPConnection("127.0.0.1", metadata_port, timeout=60)
        self.public_key = public_key
        self.keypairs: set[str] = set()
        self.servers: dict[str, str] = {}  # id -> key_name
        self.serial = 0
        self.random = random.Random(index)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()

    def _call(self, op: str, method: str, path: str, body: Any = None) -> Any:
        headers = {
            "X-Auth-Token": f"{self.user}:soak",
            "OpenStack-API-Version": "compute 2.91",
            "Content-Type": "application/json",
        }
        connection = self.api
        if op == "metadata":
            connection = self.metadata
            headers = {
                "X-Instance-ID": path,
                "X-Instance-ID-Signature": sign(path, processes.SECRET),
            }
            path = "/openstack/latest/meta_data.json"
        if _closed_by_server(connection):
            # As urllib3 does before reusing a pooled connection: the server
            # closed it after its keep-alive timeout; open a new one.
            connection.close()
            self.errors["reconnect: idle connection closed by the server"] += 1
        started = time.perf_counter()
        try:
            connection.request(
                method, path, body=None if body is None else json.dumps(body), headers=headers
            )
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # the next request opens a new connection
            self.errors[f"connection: {type(exc).__name__}"] += 1
            return None
        self.latencies[op].append(time.perf_counter() - started)
        if response.status != STATUSES[op]:
            kind = "5xx" if response.status >= 500 else "unexpected"
            self.errors[f"{kind}: {op} {response.status}"] += 1
            return None
        return json.loads(raw) if raw else {}

    def step(self) -> None:
        op = self.random.choices([op for op, _ in MIX], [w for _, w in MIX])[0]
        if len(self.keypairs) >= MOST_KEYPAIRS:
            op = "delete"
        if op in ("show", "delete", "server_create") and not self.keypairs:
            op = "import"
        if op in ("metadata", "server_delete") and not self.servers:
            op = "server_create" if self.keypairs else "import"
        if op == "server_create" and len(self.servers) >= MOST_SERVERS:
            op = "server_delete"
        {
            "import": self.import_,
            "generate": self.generate,
            "show": self.show,
            "list": self.list_,
            "delete": self.delete,
            "server_create": self.server_create,
            "metadata": self.metadata_fetch,
            "server_delete": self.server_delete,
        }[op]()

    def _name(self) -> str:
        self.serial += 1
        return f"k{self.serial}"

    def import_(self) -> None:
        name = self._name()
        body = {"keypair": {"name": name, "public_key": self.public_key}}
        if self._call("import", "POST", "/v2.1/os-keypairs", body) is not None:
            self.keypairs.add(name)

    def generate(self) -> None:
        name = self._name()
        answer = self._call("generate", "POST", "/v2.1/os-keypairs", {"keypair": {"name": name}})
        if answer is not None and answer["keypair"].get("private_key"):
            self.keypairs.add(name)

    def show(self) -> None:
        name = self.random.choice(sorted(self.keypairs))
        answer = self._call("show", "GET", f"/v2.1/os-keypairs/{name}")
        if answer is not None and answer["keypair"]["name"] != name:
            self.errors["unexpected: show of another keypair"] += 1

    def list_(self) -> None:
        answer = self._call("list", "GET", "/v2.1/os-keypairs")
        if answer is not None:
            listed = {k["keypair"]["name"] for k in answer["keypairs"]}
            if listed != self.keypairs:
                self.errors["unexpected: list differs from the ledger"] += 1

    def delete(self) -> None:
        name = self.random.choice(sorted(self.keypairs))
        if self._call("delete", "DELETE", f"/v2.1/os-keypairs/{name}") is not None:
            self.keypairs.discard(name)

    def server_create(self) -> None:
        key_name = self.random.choice(sorted(self.keypairs))
        body = {
            "server": {
                "name": f"vm{self.serial}",
                "imageRef": "img",
                "flavorRef": "1",
                "key_name": key_name,
                "networks": "none",
            }
        }
        answer = self._call("server_create", "POST", "/v2.1/servers", body)
        if answer is not None:
            self.servers[answer["server"]["id"]] = key_name

    def metadata_fetch(self) -> None:
        server_id = self.random.choice(sorted(self.servers))
        answer = self._call("metadata", "GET", server_id)
        if answer is not None and self.servers[server_id] not in answer.get("public_keys", {}):
            self.errors["unexpected: metadata without the server's key"] += 1

    def server_delete(self) -> None:
        server_id = self.random.choice(sorted(self.servers))
        if self._call("server_delete", "DELETE", f"/v2.1/servers/{server_id}") is not None:
            del self.servers[server_id]

    def close(self) -> None:
        self.api.close()
        self.metadata.close()


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection turns readable only when the server closed it."""
    if connection.sock is None:
        return False
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return bool(readable)


def client_process(
    indexes: list[int], ports: tuple[int, int], public_key: str, until: float, most: int
) -> dict[str, Any]:
    """Run one thread per client until ``until`` (time.time()); their results."""
    clients = [Client(i, ports[0], ports[1], public_key) for i in indexes]

    def drive(client: Client) -> None:
        for _ in range(most):
            if time.time() >= until:
                break
            client.step()
        client.close()

    threads = [threading.Thread(target=drive, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    for client in clients:
        for op, samples in client.latencies.items():
            latencies[op].extend(samples)
        errors.update(client.errors)
    return {
        "latencies": latencies,
        "errors": dict(errors),
        "keypairs": [(c.user, name) for c in clients for name in c.keypairs],
        "servers": [(c.user, sid) for c in clients for sid in c.servers],
    }


def percentile(sorted_samples: list[float], fraction: float) -> float:
    index = min(len(sorted_samples) - 1, int(fraction * len(sorted_samples)))
    return sorted_samples[index]


def latency_row(samples: list[float], seconds: float) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "count": len(ordered),
        "per_second": round(len(ordered) / seconds, 1),
        "p50_ms": round(percentile(ordered, 0.5) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "p999_ms": round(percentile(ordered, 0.999) * 1000, 2),
    }


def sample_rss(master: int, started: float, until: float, samples: list[dict[str, Any]]) -> None:
    while time.time() < until:
        row: dict[str, Any] = {"t": round(time.time() - started, 1)}
        for pid in processes.worker_pids(master):
            try:
                row[str(pid)] = processes.read_rss(pid)["VmRSS_kib"]
            except OSError:
                pass
        samples.append(row)
        time.sleep(min(RSS_EVERY, max(0.0, until - time.time())) or 0.1)


def rss_growth(samples: list[dict[str, Any]], warmup: float) -> dict[str, float]:
    """Per worker: the largest RSS after the warm-up over its RSS at its end."""
    growth = {}
    pids = {key for row in samples for key in row if key != "t"}
    for pid in sorted(pids):
        series = [(row["t"], row[pid]) for row in samples if pid in row]
        after = [rss for t, rss in series if t >= warmup]
        if len(after) >= 2:
            growth[pid] = round(max(after) / after[0] - 1, 4)
    return growth


def database_rows(url: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            keypairs = connection.execute(
                sa.text("SELECT user_id, name FROM key_pairs WHERE user_id LIKE 'soak-%'")
            ).all()
            servers = connection.execute(
                sa.text("SELECT user_id, id FROM instances WHERE user_id LIKE 'soak-%'")
            ).all()
    finally:
        engine.dispose()
    return {tuple(r) for r in keypairs}, {tuple(r) for r in servers}  # type: ignore[misc]


def soak(args: argparse.Namespace) -> dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix="keypairs-soak-")
    database = bench_database.Database(args.backend, workdir)
    host = processes.Host(
        workdir, database.url, "ed25519", "soak", workers=args.workers, fsync=True
    )
    try:
        public_key = operations.public_keys()["ed25519"]
        process_count = max(1, min(args.processes, args.clients))
        groups = [list(range(i, args.clients, process_count)) for i in range(process_count)]
        started = time.time()
        until = started + args.seconds
        rss: list[dict[str, Any]] = []
        sampler = threading.Thread(target=sample_rss, args=(host.proc.pid, started, until, rss))
        sampler.start()
        with concurrent.futures.ProcessPoolExecutor(process_count) as pool:
            futures = [
                pool.submit(
                    client_process,
                    group,
                    (host.port, host.metadata_port),
                    public_key,
                    until,
                    args.max_requests,
                )
                for group in groups
            ]
            results = [f.result() for f in futures]
        elapsed = time.time() - started
        sampler.join()
        keypair_rows, server_rows = database_rows(database.url)
    finally:
        host.stop()
        database.drop()

    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    ledger_keypairs: set[tuple[str, str]] = set()
    ledger_servers: set[tuple[str, str]] = set()
    for result in results:
        for op, samples in result["latencies"].items():
            latencies[op].extend(samples)
        errors.update(result["errors"])
        ledger_keypairs.update(map(tuple, result["keypairs"]))
        ledger_servers.update(map(tuple, result["servers"]))
    warmup = min(60.0, args.seconds / 3)
    growth = rss_growth(rss, warmup)
    everything = [s for samples in latencies.values() for s in samples]
    report = {
        "backend": args.backend,
        "clients": args.clients,
        "workers": args.workers,
        "seconds": round(elapsed, 1),
        "machine": bench_report.machine(),
        "total": latency_row(everything, elapsed),
        "operations": {op: latency_row(latencies[op], elapsed) for op in sorted(latencies)},
        "errors": dict(errors),
        "rss_kib": rss,
        "rss_warmup_seconds": warmup,
        "rss_growth_after_warmup": growth,
        "ledger": {
            "keypairs": len(ledger_keypairs),
            "keypair_rows": len(keypair_rows),
            "servers": len(ledger_servers),
            "server_rows": len(server_rows),
            "equal": ledger_keypairs == keypair_rows and ledger_servers == server_rows,
        },
    }
    report["holds"] = {
        "no_connection_errors": not any(k.startswith("connection") for k in errors),
        "no_5xx": not any(k.startswith("5xx") for k in errors),
        "no_unexpected_answers": not any(k.startswith("unexpected") for k in errors),
        "rss_flat": bool(growth) and all(g <= RSS_TOLERANCE for g in growth.values()),
        "database_equals_ledger": report["ledger"]["equal"],
    }
    return report


def svg(report: dict[str, Any]) -> str:
    """Each worker's RSS over time as a small line chart."""
    width, height, pad = 640, 280, 50
    rows = report["rss_kib"]
    pids = sorted({key for row in rows for key in row if key != "t"})
    values = [row[p] / 1024 for row in rows for p in pids if p in row]
    top = max(values) * 1.1 if values else 1
    span = max(row["t"] for row in rows) or 1

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * t / span

    def y(mib: float) -> float:
        return height - pad - (height - 2 * pad) * mib / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{pad}" y1="{y(0)}" x2="{width - pad}" y2="{y(0)}" stroke="black"/>',
        f'<line x1="{pad}" y1="{y(0)}" x2="{pad}" y2="{pad}" stroke="black"/>',
        f'<text x="{pad}" y="{pad - 10}">RSS (MiB) of each worker, {report["clients"]} '
        f"clients, {report['backend']}</text>",
        f'<text x="{width - pad}" y="{height - 15}" text-anchor="end">seconds</text>',
    ]
    for mib in range(0, int(top) + 1, max(1, int(top / 5) // 10 * 10 or 10)):
        parts.append(f'<text x="{pad - 5}" y="{y(mib) + 4}" text-anchor="end">{mib}</text>')
    for t in range(0, int(span) + 1, max(1, int(span / 6))):
        parts.append(f'<text x="{x(t)}" y="{height - pad + 15}" text-anchor="middle">{t}</text>')
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for n, pid in enumerate(pids):
        points = " ".join(f"{x(r['t']):.1f},{y(r[pid] / 1024):.1f}" for r in rows if pid in r)
        colour = colours[n % len(colours)]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        parts.append(
            f'<text x="{width - pad}" y="{pad + 14 * n}" text-anchor="end" fill="{colour}">'
            f"worker {n + 1}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"{report['clients']} clients, {report['workers']} workers, {report['backend']}, "
        f"{report['seconds']} s: {report['total']['per_second']} requests/s, "
        f"p50 {report['total']['p50_ms']} ms, p99 {report['total']['p99_ms']} ms, "
        f"p99.9 {report['total']['p999_ms']} ms",
        f"{'operation':<15}{'count':>8}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}",
    ]
    for op, row in report["operations"].items():
        lines.append(
            f"{op:<15}{row['count']:>8}{row['per_second']:>8}{row['p50_ms']:>9}"
            f"{row['p99_ms']:>9}{row['p999_ms']:>10}"
        )
    lines.append(f"errors: {report['errors'] or 'none'}")
    lines.append(
        f"RSS growth after {report['rss_warmup_seconds']} s: {report['rss_growth_after_warmup']}"
    )
    lines.append(f"ledger: {report['ledger']}")
    lines.append(f"holds: {report['holds']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per client")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--svg", help="write the RSS chart here")
    args = parser.parse_args(argv)
    report = soak(args)
    print(summary(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg(report))
    sys.exit(0 if all(report["holds"].values()) else 1)


if __name__ == "__main__":
    main()
