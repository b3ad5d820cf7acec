"""HAProxy in front of three API hosts on the Galera cluster.

The configuration is the operator guide's (doc/source/user/high-availability.rst):
OpenStack's HA guide defaults (``option redispatch``, ``retries 3``), an
HTTP health check of ``GET /`` (the version document: no token, no database)
and shorter check intervals for the test. Clients keep their connections
alive, as the usual clients do. Under load, one host is taken away as an
operator does for maintenance: drained through HAProxy's runtime API, then
stopped once it holds no session, and not one request fails.
"""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import conftest as root
from tests.e2e.api_process import ApiProcess, free_port
from tests.e2e.galera_cluster import GaleraCluster
from tests.e2e.galera_fixtures import (
    DELETED,
    GROUP,
    IMPORT_VERSION,
    GaleraDatabase,
    import_body,
    new_user,
    start_hosts,
    token,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(GROUP)]

BACKEND = "keypairs_api"


class HAProxy:
    """``haproxy -db`` (foreground) with an admin socket, in front of ``hosts``."""

    def __init__(self, program: str, workdir: Path, hosts: list[ApiProcess]) -> None:
        self.port = free_port()
        self.socket = workdir / "admin.sock"
        self.config = workdir / "haproxy.cfg"
        servers = "".join(
            f"    server api{i} 127.0.0.1:{host.port} check inter 500 rise 2 fall 2\n"
            for i, host in enumerate(hosts, start=1)
        )
        self.config.write_text(
            "global\n"
            f"    stats socket {self.socket} mode 600 level admin\n"
            "    maxconn 4000\n"
            "defaults\n"
            "    mode http\n"
            "    option redispatch\n"
            "    retries 3\n"
            "    timeout http-request 10s\n"
            "    timeout queue 1m\n"
            "    timeout connect 10s\n"
            "    timeout client 1m\n"
            "    timeout server 1m\n"
            "    timeout check 10s\n"
            f"listen {BACKEND}\n"
            f"    bind 127.0.0.1:{self.port}\n"
            "    balance roundrobin\n"
            "    option forwardfor\n"
            "    option httpchk GET /\n"
            "    http-check expect status 200\n" + servers
        )
        checked = subprocess.run(
            [program, "-c", "-f", str(self.config)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        self.log = workdir / "haproxy.log"
        self.process = subprocess.Popen(
            [program, "-db", "-f", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2.1"

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as admin:
            admin.settimeout(5)
            admin.connect(str(self.socket))
            admin.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the backend's servers: {name: {status, scur, stot...}}."""
        text = self.command("show stat").lstrip("# ")
        return {
            row["svname"]: row
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Proxied:
    proxy: HAProxy
    hosts: list[ApiProcess]


@pytest.fixture
def proxied(
    galera_cluster: GaleraCluster, galera_database: GaleraDatabase, tmp_path: Path
) -> Iterator[Proxied]:
    """Hosts of its own (one is stopped by the test), one per node, behind HAProxy."""
    program = root.need_program("haproxy", "haproxy")
    hosts = start_hosts(galera_database, tmp_path, galera_cluster.nodes)
    proxy = None
    try:
        proxy = HAProxy(program, tmp_path, hosts)
        wait_until(lambda: up(proxy) == {"api1", "api2", "api3"}, timeout=20)
        yield Proxied(proxy, hosts)
    finally:
        if proxy is not None:
            proxy.stop()
        for host in hosts:
            host.stop()


def up(proxy: HAProxy) -> set[str]:
    try:
        return {name for name, row in proxy.servers().items() if row["status"] == "UP"}
    except OSError:
        return set()


class Load:
    """Threads, each with its own keep-alive session and user, cycling through
    import, show and delete through the proxy until stopped."""

    def __init__(self, endpoint: str, threads: int = 6) -> None:
        self.endpoint = endpoint
        self.answers: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        user = new_user("proxied")
        headers = {
            "X-Auth-Token": token(user),
            "OpenStack-API-Version": f"compute {IMPORT_VERSION}",
        }
        with requests.Session() as session:
            i = 0
            while not self.stopping.is_set():
                name = f"k{i:04d}"
                url = f"{self.endpoint}/os-keypairs"
                steps = (
                    ("POST", url, {"json": import_body(name)}),
                    ("GET", f"{url}/{name}", {}),
                    ("DELETE", f"{url}/{name}", {}),
                )
                for method, target, extra in steps:
                    try:
                        response = session.request(
                            method, target, headers=headers, timeout=30, **extra
                        )
                        status, text = response.status_code, response.text
                    except requests.RequestException as error:
                        status, text = 0, repr(error)
                    with self.lock:
                        self.answers.append((method, status, text))
                i += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)


def served(proxy: HAProxy) -> dict[str, int]:
    return {name: int(row["stot"]) for name, row in proxy.servers().items()}


def test_a_host_drained_and_stopped_under_load_fails_no_request(proxied: Proxied) -> None:
    proxy, hosts = proxied.proxy, proxied.hosts
    with Load(proxy.endpoint) as load:
        wait_until(lambda: all(n > 5 for n in served(proxy).values()), timeout=20)

        assert proxy.command(f"set server {BACKEND}/api2 state drain").strip() == ""
        wait_until(lambda: proxy.servers()["api2"]["status"] == "DRAIN", timeout=5)
        wait_until(lambda: int(proxy.servers()["api2"]["scur"]) == 0, timeout=10)
        hosts[1].stop()
        stopped = served(proxy)
        # The check now fails too: the host is down for HAProxy.
        wait_until(lambda: proxy.servers()["api2"]["status"] == "DOWN", timeout=10)
        time.sleep(1)
        after = served(proxy)

    assert after["api2"] == stopped["api2"], (stopped, after)
    assert after["api1"] > stopped["api1"] and after["api3"] > stopped["api3"], (stopped, after)
    counted = Counter((method, status) for method, status, _ in load.answers)
    failed = [a for a in load.answers if a[1] not in (200, 201, *DELETED)]
    assert not failed, (counted, failed[:5])
    assert counted[("POST", 201)] > 30, counted
