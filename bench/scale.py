"""The scale run: a million keypairs loaded, the hot operations measured again,
and the query plans of their statements."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from typing import Any

from bench import load
from bench.database import Database
from bench.measure import Profile, measure_all
from bench.operations import KP, Op
from bench.processes import Host


def scale(
    profile: Profile,
    database: Database,
    host: Host,
    pool: concurrent.futures.Executor,
    ops: list[Op],
    key_text: str,
    hello_op: Op,
    hello_rps: float,
) -> dict[str, Any]:
    """Load ``scale_users`` x ``scale_per_user`` keypairs, measure the hot
    operations again, and capture their query plans."""
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
        "users": len(users),
        "load_seconds": loaded,
        "results": results,
        "explain": plans,
        "full_scans": [p["statement"] for p in plans if p["full_scan"]],
    }
