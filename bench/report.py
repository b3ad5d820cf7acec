"""The benchmark's report: the targets, the machine, and the printed tables."""

from __future__ import annotations

import os
import platform
from typing import Any

#: Import and generate ed25519 may cost the floor's bare durable write plus
#: this many hellos; show and list-10 at most this many hellos; at
#: FLOOR_CLIENTS concurrent clients, import keeps at least this share of the
#: floor app's throughput.
WRITE_ABOVE_FLOOR = 1.0
READ_RATIO = 2.0
THROUGHPUT_SHARE = 0.8


def targets(
    results: dict[str, Any], floor_throughput: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each target with its measured value, its limit and whether it was met.

    Ratios are medians over the hello requests interleaved with each
    operation (see ``measure.sequential``), so a write's limit is the floor
    write's own ratio plus one.
    """
    floor = results["floor write"]["ratio"]
    share = floor_throughput["import ed25519"]["rps"] / floor_throughput["floor write"]["rps"]
    clients = floor_throughput["floor write"]["clients"]
    checks = [
        # (target, value, limit, met when the value is at most the limit)
        *(
            (
                f"{name} <= floor write + {WRITE_ABOVE_FLOOR:g} hello (x hello)",
                results[name]["ratio"],
                floor + WRITE_ABOVE_FLOOR,
                True,
            )
            for name in ("import ed25519", "generate ed25519")
        ),
        *(
            (f"{name} <= {READ_RATIO:g}x hello", results[name]["ratio"], READ_RATIO, True)
            for name in ("show", "list-10")
        ),
        (
            f"import ed25519 at {clients} clients >= {THROUGHPUT_SHARE:.0%} of the floor "
            "app's req/s (share)",
            share,
            THROUGHPUT_SHARE,
            False,
        ),
    ]
    return [
        {
            "target": target,
            "value": value,
            "limit": limit,
            "met": value <= limit if at_most else value >= limit,
        }
        for target, value, limit, at_most in checks
    ]


def above_floor(results: dict[str, Any]) -> dict[str, float]:
    """What the API adds to the bare store work under it, in hellos: show
    over the floor read, import and generate over the floor write."""
    pairs = (
        ("show", "floor read"),
        ("import ed25519", "floor write"),
        ("generate ed25519", "floor write"),
    )
    return {
        f"{name} over {floor}": results[name]["ratio"] - results[floor]["ratio"]
        for name, floor in pairs
        if name in results and floor in results
    }


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
        f"{report['server']['wsgi']} {report['server']['threads']} threads, "
        f"{report['clients']} clients, "
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
        verdict = "met" if t["met"] else "missed"
        print(f"  [{verdict}] {t['target']}: {t['value']:.2f} (limit {t['limit']:.2f})")
    for name, row in report.get("floor_throughput", {}).items():
        print(f"  {name} at {row['clients']} clients: {row['rps']:.1f} req/s")
    for name, hellos in report.get("above_floor", {}).items():
        print(f"  {name}: {hellos:+.2f} hello")
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
