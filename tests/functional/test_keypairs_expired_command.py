"""``keypairs-manage keypairs expired``: the operators' sweep, as a real process.

Keypairs are made through the API on a database the command then reads, on
SQLite and PostgreSQL; expiries in the past are written through the store,
as time would.
"""

from __future__ import annotations

import datetime
import subprocess
from typing import Any

from keypairs_ext.api import lifecycle
from tests.conftest import Client, build_host
from tests.support import command, write_config

V11 = {"OpenStack-API-Version": "compute 2.92, keypairs 1.1"}


def run(config: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [command("keypairs-manage"), "--config-file", config, "keypairs", "expired", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lists_then_deletes_expired_keypairs_in_batches(tmp_path: Any, database_url: str) -> None:
    host = build_host(database_url, str(tmp_path))
    try:
        user = f"sweep-{tmp_path.name}"[:60]
        client = Client(host.api, token=f"{user}:project1")
        for name in ("a", "b", "c", "d", "fresh", "forever"):
            body = {"keypair": {"name": name, "algorithm": "ed25519"}}
            if name != "forever":
                body["keypair"]["expires_in"] = 3600
            assert client.post("/v2.1/os-keypairs", body, headers=V11).status_int == 201
        store = host.extensions[0].store
        now = lifecycle.now()
        ages = {"a": 10, "b": 5, "c": 3, "d": 1}  # days ago
        for name, days in ages.items():
            store.update(None, user, name, {"expires_at": now - datetime.timedelta(days=days)})
        server = {"server": {"name": "vm", "imageRef": "i", "flavorRef": "1", "key_name": "fresh"}}
        assert client.post("/v2.1/servers", server, headers=V11).status_int == 202
    finally:
        host.close()
    config = write_config(
        tmp_path / "keypairs.conf",
        {"DEFAULT": {"state_path": tmp_path}, "database": {"connection": database_url}},
    )

    def stamp(days: int) -> str:
        expired = now - datetime.timedelta(days=days)
        return expired.strftime("%Y-%m-%dT%H:%M:%SZ")

    listed = run(config, "--older-than", "2", "--batch-size", "1")
    assert listed.returncode == 0, listed.stderr
    mine = [line.split("\t")[:3] for line in listed.stdout.splitlines() if line.startswith(user)]
    assert mine == [[user, "a", stamp(10)], [user, "b", stamp(5)], [user, "c", stamp(3)]]
    assert "expired keypair(s)" in listed.stderr

    deleted = run(config, "--delete", "--batch-size", "2")
    assert deleted.returncode == 0, deleted.stderr
    mine = [line.split("\t")[1] for line in deleted.stdout.splitlines() if line.startswith(user)]
    assert mine == ["a", "b", "c", "d"]
    assert "deleted" in deleted.stderr

    host = build_host(database_url, str(tmp_path))
    try:
        client = Client(host.api, token=f"{user}:project1")
        names = client.get("/v2.1/os-keypairs", headers=V11).json["keypairs"]
        assert [k["keypair"]["name"] for k in names] == ["forever", "fresh"]
    finally:
        host.close()
    again = run(config, "--older-than", "0")
    assert [line for line in again.stdout.splitlines() if line.startswith(user)] == []

    bad = run(config, "--older-than", "-1")
    assert bad.returncode == 2 and "--older-than must be >= 0" in bad.stderr
