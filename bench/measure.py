"""How the benchmark measures: sequential latency paired with hello, and
throughput from client processes, each loop bounded in requests and seconds."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.client
import multiprocessing
import os
import statistics
import time
from typing import Any

from bench.operations import Op, UnexpectedStatus, build, send

CLIENTS = 4
PAIRED_BLOCK = 25  # requests per block when hello and an operation alternate


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
        send(conn, request, op.expect)
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
                send(pair_conn, pair_request, paired.expect)
                pair_samples.append(perf() - start)
        start = perf()
        send(conn, request, op.expect)
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
            send(conn, request, op.expect)
            done += 1
        except UnexpectedStatus:
            errors += 1
    elapsed = time.perf_counter() - began
    conn.close()
    return done, errors, elapsed


def throughput(
    pool: concurrent.futures.Executor, op: Op, profile: Profile, clients: int = CLIENTS
) -> dict[str, Any]:
    """Requests per second of ``clients`` client processes started together."""
    start_at = time.time() + 0.3
    futures = [
        pool.submit(_client, op, f"c{k}", start_at, profile.conc_seconds, profile.conc_requests)
        for k in range(clients)
    ]
    results = [f.result() for f in futures]
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    return {"clients": clients, "requests": done, "errors": errors, "rps": done / elapsed}


def client_pool(clients: int) -> concurrent.futures.ProcessPoolExecutor:
    """``clients`` client processes, every one started before any is timed."""
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(clients, mp_context=context)
    # A busy worker makes the pool start another, up to ``clients``.
    list(pool.map(time.sleep, [0.5] * clients))
    return pool


def compare_throughput(
    ops: list[Op], profile: Profile, clients: int, rounds: int = 2
) -> dict[str, dict[str, Any]]:
    """Each op's throughput at ``clients`` clients, the ops alternating for
    ``rounds`` rounds so that all see the same minutes; the median round of each."""
    runs: dict[str, list[dict[str, Any]]] = {op.name: [] for op in ops}
    with client_pool(clients) as pool:
        for round_number in range(rounds):
            for op in ops:
                # New names each round: a create of an existing name is a 409.
                fresh = dataclasses.replace(
                    op, params={**op.params, "prefix": f"{op.params['prefix']}-r{round_number}"}
                )
                runs[op.name].append(throughput(pool, fresh, profile, clients))
    summary = {}
    for name, measured in runs.items():
        rates = [run["rps"] for run in measured]
        summary[name] = {
            "clients": clients,
            "rps": statistics.median(rates),
            "rps_runs": rates,
            "errors": sum(run["errors"] for run in measured),
        }
    return summary


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


def hello_row(results: dict[str, Any], hello_runs: list[dict[str, Any]]) -> float:
    """hello's row from its separate runs (the median of their medians)."""
    median = statistics.median(r["median_ms"] for r in hello_runs)
    results["hello"].update(
        median_ms=median,
        p99_ms=statistics.median(r["p99_ms"] for r in hello_runs),
        runs_median_ms=[r["median_ms"] for r in hello_runs],
    )
    return median


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
