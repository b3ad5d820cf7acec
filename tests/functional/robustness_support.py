"""Helpers of the robustness tests: real API processes, a private PostgreSQL, HTTP.

* :class:`Service` runs ``keypairs-api`` or gunicorn with a config file, its
  output in a file (a pipe would fill up and stall a chatty server), and
  waits until the port answers.
* :class:`PrivatePostgres` is a PostgreSQL cluster of the test's own
  (``initdb`` as the ``postgres`` OS user, since initdb refuses root), which a
  test may stop and start without disturbing the shared server.
* :func:`call` is one HTTP request on a fresh connection, as a compute client
  sends it, returning status, headers and the decoded JSON body (or text).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any

import pytest

from tests.support import command, free_port

PG_BIN = os.environ.get("KEYPAIRS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin")


def db_sync(config: str) -> None:
    result = subprocess.run(
        [command("keypairs-manage"), "--config-file", config, "db", "sync"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


# --- HTTP -------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    def fault(self) -> tuple[str, int, str]:
        """(name, code, message) of a compute fault body; fails otherwise."""
        body = self.json
        assert isinstance(body, dict) and len(body) == 1, self.text
        ((name, inner),) = body.items()
        assert set(inner) == {"code", "message"}, self.text
        assert inner["code"] == self.status, self.text
        return name, inner["code"], inner["message"]


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = "user1:project1",
    version: str | None = None,
    timeout: float = 30,
) -> Reply:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["X-Auth-Token"] = token
    if version is not None:
        headers["OpenStack-API-Version"] = f"compute {version}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read().decode("utf-8", "replace"),
        )
    finally:
        connection.close()


# --- processes --------------------------------------------------------------------


class Service:
    """A server process with its output in ``output``; stopped by ``stop``."""

    def __init__(
        self,
        argv: list[str],
        port: int,
        output: Any,
        env: dict | None = None,
        stop_signal: int = signal.SIGTERM,
    ):
        self.port = port
        self.stop_signal = stop_signal
        self.output = str(output)
        with open(self.output, "wb") as sink:
            self.process = subprocess.Popen(
                argv,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, **(env or {})),
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> Service:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"nothing listens on {self.port}:\n{self.log()}")

    def log(self) -> str:
        with open(self.output, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def keypairs_api(config: str, port: int, output: Any) -> Service:
    return Service([command("keypairs-api"), "--config-file", config], port, output)


def gunicorn(config: str, port: int, output: Any, workers: int = 4, threads: int = 1) -> Service:
    argv = [
        command("gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--backlog",
        "512",
        "--timeout",
        "120",
        # Import the application once, before forking the workers.
        "--preload",
        # Concurrent gunicorns would share ~/.gunicorn/gunicorn.ctl.
        "--no-control-socket",
        "keypairs_ext.host.wsgi:application",
    ]
    # SIGINT: gunicorn's quick shutdown (SIGTERM waits for idle keep-alives).
    return Service(
        argv, port, output, env={"KEYPAIRS_CONFIG_FILE": config}, stop_signal=signal.SIGINT
    )


# --- a PostgreSQL of the test's own ----------------------------------------------


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free loopback port."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="keypairs-pg-")
        self.data = os.path.join(self.root, "data")
        self.socket_dir = os.path.join(self.root, "sock")
        self.logfile = os.path.join(self.root, "postgres.log")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def available() -> bool:
        return (
            os.path.exists(os.path.join(PG_BIN, "initdb"))
            and shutil.which("runuser") is not None
            and os.geteuid() == 0
        )

    def _as_postgres(self, *argv: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            prefix + list(argv), capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def init(self) -> PrivatePostgres:
        os.makedirs(self.socket_dir)
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres")
        shutil.chown(self.socket_dir, "postgres")
        self._as_postgres(
            os.path.join(PG_BIN, "initdb"),
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=100"
        )
        self._as_postgres(
            os.path.join(PG_BIN, "pg_ctl"),
            "-D",
            self.data,
            "-l",
            self.logfile,
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        self._as_postgres(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                self.stop()
            except AssertionError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def need_private_postgres() -> None:
    if not PrivatePostgres.available():
        message = f"needs root, runuser and PostgreSQL's initdb under {PG_BIN}"
        if os.environ.get("KEYPAIRS_REQUIRE_SERVERS") == "1":
            pytest.fail(message + " (KEYPAIRS_REQUIRE_SERVERS=1)")
        pytest.skip(message)
