"""The soak of bench/soak.py, 30 seconds of it: 200 keep-alive clients, two
workers, PostgreSQL; no connection error, no 5xx, flat memory, and the
database equal to the clients' ledger.  The 10-minute run is in
doc/source/performance.rst."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest as root

ROOT = Path(__file__).parents[2]

pytestmark = [pytest.mark.postgresql, pytest.mark.xdist_group("serving")]


def test_thirty_second_soak_holds(tmp_path: Path) -> None:
    root._need(root.POSTGRESQL_URL, "PostgreSQL")
    report_file = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--seconds", "30", "--clients", "200"]
        + ["--workers", "2", "--backend", "postgresql", "--json", str(report_file)],
        cwd=ROOT,
        env={**os.environ, "KEYPAIRS_BENCH_POSTGRESQL_URL": root.POSTGRESQL_URL},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert report_file.exists(), result.stderr[-3000:]
    report = json.loads(report_file.read_text())
    # a reconnect after the server closed an idle connection is what every
    # pooling client does (urllib3 alike); anything else is an error
    errors = {k: n for k, n in report["errors"].items() if not k.startswith("reconnect")}
    assert errors == {}, report["errors"]
    assert report["holds"] == {
        "no_connection_errors": True,
        "no_5xx": True,
        "no_unexpected_answers": True,
        "rss_flat": True,
        "database_equals_ledger": True,
    }, report["rss_growth_after_warmup"]
    assert result.returncode == 0, result.stdout
    # every operation of the mix ran, on both workers
    assert set(report["operations"]) == {
        "import", "generate", "show", "list", "delete",
        "server_create", "metadata", "server_delete",
    }  # fmt: skip
    assert all(row["count"] > 0 for row in report["operations"].values())
    assert len(report["rss_growth_after_warmup"]) == 2
    assert report["ledger"]["keypairs"] > 0 and report["ledger"]["servers"] > 0
