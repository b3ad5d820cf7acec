"""``keypairs-api`` as a server under stress: bursts, slow clients, SIGTERM, SIGKILL.

Each test starts the real command on loopback ports and talks to it with
real sockets: what an operator sees, not what a WSGI call returns.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support import command, ed25519_line, free_port, write_config

pytestmark = pytest.mark.xdist_group("serving")

HEADERS = {"Content-Type": "application/json", "OpenStack-API-Version": "compute 2.10"}


class Api:
    """``keypairs-api --config-file`` with ``[api]`` options, metadata off."""

    def __init__(self, tmp_path: Path, **api: Any) -> None:
        self.port = free_port()
        self.log = tmp_path / "keypairs-api.log"
        self.database = tmp_path / "keypairs.sqlite"
        config = write_config(
            tmp_path / "keypairs.conf",
            {
                "DEFAULT": {"state_path": tmp_path},
                "api": {"bind_port": self.port, **api},
                "metadata": {"enabled": "false"},
                "keypairs": {"rsa_pool_size": 0},
            },
        )
        self.process = subprocess.Popen(
            [command("keypairs-api"), "--config-file", config, "--log-file", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                if len(self.workers()) == int(api.get("workers", 1)):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("keypairs-api is not serving")

    def workers(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(
        self, method: str, path: str, body: Any = None, user: str = "u1", timeout: float = 30
    ) -> tuple[int, Any]:
        connection = self.connection(timeout)
        try:
            connection.request(
                method,
                "/v2.1" + path,
                body=None if body is None else json.dumps(body),
                headers={**HEADERS, "X-Auth-Token": f"{user}:p"},
            )
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return response.status, json.loads(raw) if raw else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def serve(tmp_path: Path):
    started: list[Api] = []

    def start(**api: Any) -> Api:
        started.append(Api(tmp_path, **api))
        return started[-1]

    yield start
    for api in started:
        api.stop()


def keypair_rows(api: Api) -> int:
    engine = sa.create_engine(f"sqlite:///{api.database}")
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM key_pairs")).scalar_one()
    finally:
        engine.dispose()


def all_at_once(count: int, work) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; their results."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait(60)
        try:
            results[i] = work(i)
        except Exception as exc:  # the test reports every failure, by kind
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return results


BURST = 256


def test_a_burst_of_new_connections_is_answered(serve) -> None:
    """256 clients open a connection and POST at the same moment: every one
    gets its 201 (a listen backlog of 5 reset some of 32)."""
    api = serve()

    def create(i: int) -> int:
        body = {"keypair": {"name": f"burst-{i}", "public_key": ed25519_line()}}
        return api.call("POST", "/os-keypairs", body, user=f"user{i}", timeout=120)[0]

    results = all_at_once(BURST, create)
    assert Counter(map(repr, results)) == {"201": BURST}
    assert keypair_rows(api) == BURST


SLOW_CLIENTS = 500


def test_slow_clients_do_not_hold_up_a_show(serve) -> None:
    """500 connections trickle their headers a byte a second; meanwhile a
    normal client's show is answered in well under 100 ms."""
    api = serve()
    assert (
        api.call("POST", "/os-keypairs", {"keypair": {"name": "kp", "public_key": ed25519_line()}})[
            0
        ]
        == 201
    )
    slow = [socket.create_connection(("127.0.0.1", api.port)) for _ in range(SLOW_CLIENTS)]
    request = b"GET /v2.1/os-keypairs HTTP/1.1\r\nHost: x\r\nX-Auth-Token: u1:p\r\n\r\n"
    stop = threading.Event()

    def trickle() -> None:
        for byte in range(len(request) - 4):  # never the end of the headers
            for sock in slow:
                sock.send(request[byte : byte + 1])
            if stop.wait(1):
                return

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        time.sleep(6)  # past any server's wait for a first byte
        times = []
        for _ in range(10):
            started = time.perf_counter()
            status, body = api.call("GET", "/os-keypairs/kp", timeout=5)
            times.append(time.perf_counter() - started)
            assert status == 200 and body["keypair"]["name"] == "kp"
            time.sleep(0.2)
        # every slow client is still connected: none was dropped to make room
        still_open = sum(1 for sock in slow if _is_open(sock))
    finally:
        stop.set()
        trickler.join()
        for sock in slow:
            sock.close()
    assert still_open == SLOW_CLIENTS
    assert statistics.median(times) < 0.1, times


def _is_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def test_idle_keepalive_connections_close_after_the_timeout(serve) -> None:
    api = serve(keepalive_timeout=2)
    connection = api.connection()
    headers = {**HEADERS, "X-Auth-Token": "u1:p"}
    connection.request("GET", "/v2.1/os-keypairs", headers=headers)
    first = connection.getresponse()
    assert first.status == 200 and first.getheader("Connection") != "close"
    first.read()
    time.sleep(1)  # within the timeout: the same connection serves again
    connection.request("GET", "/v2.1/os-keypairs", headers=headers)
    assert connection.getresponse().read() == b'{"keypairs": []}'
    sock = connection.sock
    time.sleep(4)  # the timeout, and the server's once-a-second sweep
    sock.settimeout(2)
    assert sock.recv(1) == b"", "the idle connection is still open"
    connection.close()


IN_FLIGHT = 50
GRACE = 15


def test_sigterm_answers_every_request_received_and_refuses_new_ones(serve) -> None:
    """SIGTERM with 50 generate requests sent: each gets its real 201, the
    port refuses new connections at once, the process exits within the grace."""
    api = serve(threads=4, graceful_shutdown_timeout=GRACE)
    sent = threading.Semaphore(0)
    answered = []

    def generate(i: int) -> tuple[int, Any]:
        connection = api.connection(timeout=60)
        body = json.dumps({"keypair": {"name": f"kp-{i}"}})
        connection.request(
            "POST", "/v2.1/os-keypairs", body=body, headers={**HEADERS, "X-Auth-Token": "u1:p"}
        )
        sent.release()
        response = connection.getresponse()
        result = (response.status, json.loads(response.read()))
        answered.append(i)
        return result

    results: list[Any] = []
    clients = threading.Thread(target=lambda: results.extend(all_at_once(IN_FLIGHT, generate)))
    clients.start()
    for _ in range(IN_FLIGHT):
        assert sent.acquire(timeout=60)
    time.sleep(0.2)  # let the server read what was sent
    pending_at_sigterm = IN_FLIGHT - len(answered)
    signalled = time.monotonic()
    api.process.send_signal(signal.SIGTERM)

    refused = None
    while time.monotonic() - signalled < 5:
        try:
            socket.create_connection(("127.0.0.1", api.port), timeout=1).close()
        except ConnectionRefusedError:
            refused = time.monotonic() - signalled
            break
        time.sleep(0.05)
    clients.join(120)
    api.process.wait(GRACE + 10)
    exited = time.monotonic() - signalled

    assert pending_at_sigterm > 0, "every request was answered before SIGTERM: nothing tested"
    assert [r[0] if isinstance(r, tuple) else r for r in results] == [201] * IN_FLIGHT
    assert all(r[1]["keypair"]["private_key"].startswith("-----BEGIN") for r in results)
    assert refused is not None and refused < 2, "new connections were not refused"
    assert api.process.returncode == 0
    assert exited < GRACE
    assert keypair_rows(api) == IN_FLIGHT


def test_a_killed_worker_is_replaced_while_serving_goes_on(serve) -> None:
    api = serve(workers=2)
    probes: list[tuple[float, Any]] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                result: Any = api.call("GET", "/os-keypairs", timeout=5)[0]
            except (OSError, http.client.HTTPException) as exc:
                # A request the victim was answering is cut (IncompleteRead).
                result = exc
            probes.append((started, result))
            time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        time.sleep(1)
        victim = api.workers()[0]
        os.kill(victim, signal.SIGKILL)
        # From here the victim runs no more: every request sent now must be answered.
        killed = time.monotonic()
        replaced = None
        while time.monotonic() - killed < 5:
            workers = api.workers()
            if victim not in workers and len(workers) == 2:
                replaced = time.monotonic() - killed
                break
            time.sleep(0.02)
        time.sleep(1)
    finally:
        stop.set()
        prober.join()
    assert replaced is not None and replaced < 1, replaced
    after = [result for started, result in probes if started > killed]
    assert after and all(result == 200 for result in after), Counter(map(repr, after))
    within_a_second = [started for started, _ in probes if killed < started < killed + 1]
    assert len(within_a_second) >= 5, "serving paused after the kill"
    assert f"Worker (pid:{victim}) was sent SIGKILL!" in api.log.read_text()
