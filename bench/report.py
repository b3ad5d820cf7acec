"""The benchmark's report: the targets, the machine, and the printed tables."""

from __future__ import annotations

import os
import platform
from typing import Any


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
