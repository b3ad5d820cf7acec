"""The API under gunicorn, four worker processes, one PostgreSQL database.

As an operator deploys it: ``keypairs-manage db sync`` first, then gunicorn
serving ``keypairs_ext.host.wsgi:application`` with ``KEYPAIRS_CONFIG_FILE``
pointing at a config with Keystone auth. openstacksdk then runs the keypair
lifecycle through the catalog, and bursts of concurrent requests, spread over
the workers, check that uniqueness and quota hold across processes: 50
creates of one name leave exactly one keypair, 50 creates of distinct names
under a quota of 20 leave exactly 20.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests import conftest as root
from tests.e2e.conftest import (
    ComputeCloud,
    api_sections,
    ed25519_keypair,
    key_fields,
    md5_fingerprint,
    register_compute_in_region,
    ssh_public_key_of,
    unique,
)
from tests.e2e.keystone_server import KeystoneServer
from tests.support import command, free_port, write_config

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("keystone"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]

WORKERS = 4
QUOTA = 20
BURST = 50


class Gunicorn:
    def __init__(self, workdir: Path, config_file: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.access_log = workdir / "access.log"
        self.error_log = workdir / "error.log"
        self.process = subprocess.Popen(
            [
                command("gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(WORKERS),
                "--graceful-timeout",
                "5",
                "--access-logfile",
                str(self.access_log),
                # the worker's pid on each line: which process served it
                "--access-logformat",
                "%(p)s %(m)s %(U)s %(s)s",
                "--error-logfile",
                str(self.error_log),
                "keypairs_ext.host.wsgi:application",
            ],  # fmt: skip
            env=dict(os.environ, KEYPAIRS_CONFIG_FILE=str(config_file)),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2.1"

    def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.error_log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                if len(self.workers()) == WORKERS:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn not serving: {self.error_log.read_text()[-3000:]}")

    def workers(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def serving_pids(self) -> Counter[str]:
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        return Counter(line.split()[0] for line in lines if line.strip())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    root._need(root.POSTGRESQL_URL, "PostgreSQL")
    url = root.create_database(root.POSTGRESQL_URL)
    yield url
    root.drop_database(root.POSTGRESQL_URL, url)


@pytest.fixture(scope="module")
def gunicorn_cloud(
    keystone: KeystoneServer,
    e2e_accounts: dict[tuple[str, str], dict[str, str]],
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ComputeCloud, Gunicorn]]:
    workdir = tmp_path_factory.mktemp("gunicorn")
    config = Path(
        write_config(
            workdir / "keypairs.conf",
            api_sections(
                keystone,
                DEFAULT={"state_path": workdir / "state"},
                database={"connection": database_url},
                quota={"key_pairs": QUOTA},
                metadata={"enabled": "false"},
            ),
        )
    )
    synced = subprocess.run(
        [command("keypairs-manage"), "--config-file", str(config), "db", "sync"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert synced.returncode == 0, synced.stderr
    server = Gunicorn(workdir, config)
    try:
        server.wait()
        region = "e2e-gunicorn"
        register_compute_in_region(keystone, server.endpoint, region)
        yield ComputeCloud(keystone, server.endpoint, region, e2e_accounts, workdir), server
    finally:
        server.stop()


def test_four_workers_serve_the_lifecycle(
    gunicorn_cloud: tuple[ComputeCloud, Gunicorn], tmp_path: Path
) -> None:
    cloud, server = gunicorn_cloud
    assert len(server.workers()) == WORKERS
    user = cloud.new_account("member", prefix="kp-e2e-gunicorn")
    conn = cloud.sdk(user)
    imported_name, generated_name = unique("gu-imp"), unique("gu-gen")
    _, public_line = ed25519_keypair("me@laptop")

    imported = conn.compute.create_keypair(name=imported_name, public_key=public_line)
    assert imported.fingerprint == md5_fingerprint(public_line)
    generated = conn.compute.create_keypair(name=generated_name)
    assert ssh_public_key_of(generated.private_key, tmp_path) == key_fields(generated.public_key)

    # every read may land on another worker: all of them see the same database
    for _ in range(2 * WORKERS):
        assert [kp.name for kp in conn.compute.keypairs()] == sorted(
            [imported_name, generated_name]
        )
        assert conn.compute.get_keypair(imported_name).public_key == public_line

    from openstack import exceptions as sdk_exc

    with pytest.raises(sdk_exc.ConflictException):
        conn.compute.create_keypair(name=imported_name, public_key=public_line)

    vm = conn.compute.create_server(
        name=unique("vm"), image_id="img", flavor_id="1", networks="none", key_name=generated_name
    )
    assert conn.compute.get_server(vm.id).key_name == generated_name
    assert generated_name in {s.key_name for s in conn.compute.servers()}

    for name in (imported_name, generated_name):
        conn.compute.delete_keypair(name, ignore_missing=False)
        with pytest.raises(sdk_exc.NotFoundException):
            conn.compute.get_keypair(name)
    assert list(conn.compute.keypairs()) == []
    assert conn.compute.get_server(vm.id).key_name == generated_name
    conn.compute.delete_server(vm.id)


def burst(endpoint: str, token: str, bodies: list[dict[str, Any]]) -> Counter[int]:
    """POST every body at once (threads released together); status counts."""
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(bodies))

    def post(body: dict[str, Any]) -> None:
        with requests.Session() as session:
            start.wait(timeout=60)
            response = session.post(
                f"{endpoint}/os-keypairs",
                json=body,
                headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.35"},
                timeout=120,
            )
        assert response.status_code < 500, response.text
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert len(statuses) == len(bodies)
    return Counter(statuses)


def usage(database_url: str, user_id: str) -> int | None:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT in_use FROM key_pair_usages WHERE user_id = :u"), {"u": user_id}
            ).scalar()
    finally:
        engine.dispose()


def test_a_burst_of_one_name_leaves_one_keypair(
    gunicorn_cloud: tuple[ComputeCloud, Gunicorn], database_url: str
) -> None:
    cloud, server = gunicorn_cloud
    user = cloud.new_account("member", prefix="kp-e2e-burst")
    token = cloud.session(user).get_token()
    before = server.serving_pids()
    name = unique("same")
    bodies = [{"keypair": {"name": name, "public_key": ed25519_keypair()[1]}} for _ in range(BURST)]
    assert burst(cloud.endpoint, token, bodies) == {201: 1, 409: BURST - 1}

    listed = cloud.sdk(user).compute.keypairs()
    assert [kp.name for kp in listed] == [name]
    assert usage(database_url, user["user_id"]) == 1
    # the burst was spread over more than one process
    served = server.serving_pids() - before
    assert len(served) > 1, served


def test_a_burst_over_quota_stops_at_the_limit(
    gunicorn_cloud: tuple[ComputeCloud, Gunicorn], database_url: str
) -> None:
    cloud, _ = gunicorn_cloud
    user = cloud.new_account("member", prefix="kp-e2e-quota")
    token = cloud.session(user).get_token()
    bodies = [
        {"keypair": {"name": f"k{i:02d}", "public_key": ed25519_keypair()[1]}} for i in range(BURST)
    ]
    assert burst(cloud.endpoint, token, bodies) == {201: QUOTA, 403: BURST - QUOTA}
    assert len(list(cloud.sdk(user).compute.keypairs())) == QUOTA
    assert usage(database_url, user["user_id"]) == QUOTA
