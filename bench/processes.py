"""The processes the benchmark serves: keypairs-api as deployed, and the bare apps."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

THREADS = 16
SECRET = "bench-metadata-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, path: str = "/", seconds: float = 90.0, proc=None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def api_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "keypairs-api")
    if os.path.exists(script):
        return [script]
    found = shutil.which("keypairs-api")
    return [found] if found else [sys.executable, "-m", "keypairs_ext.host.cmd.api"]


QUOTA = 10_000_000  # [quota] key_pairs of the bench's hosts: room for every fixture


def write_host_config(
    path: str,
    workdir: str,
    url: str,
    algorithm: str,
    fsync: bool,
    log_file: str,
    port: int | None = None,
    metadata_port: int | None = None,
    workers: int = 1,
) -> None:
    """The bench's keypairs-api configuration; the servers' sections only
    with their ports (an in-process host has no server)."""
    sections = [f"[DEFAULT]\nstate_path = {workdir}\nlog_file = {log_file}\n"]
    if port is not None:
        sections.append(
            f"[api]\nbind_host = 127.0.0.1\nbind_port = {port}\nthreads = {THREADS}\n"
            f"workers = {workers}\n"
        )
    if metadata_port is not None:
        sections.append(
            f"[metadata]\nbind_host = 127.0.0.1\nbind_port = {metadata_port}\n"
            f"shared_secret = {SECRET}\n"
        )
    sections += [
        f"[database]\nconnection = {url}\nsqlite_synchronous = {fsync}\n",
        f"[keypairs]\ngeneration_algorithm = {algorithm}\n",
        f"[quota]\nkey_pairs = {QUOTA}\n",
    ]
    with open(path, "w") as f:
        f.write("\n".join(sections))


class Host:
    """keypairs-api in a subprocess, configured through a file, as deployed."""

    def __init__(
        self,
        workdir: str,
        url: str,
        algorithm: str,
        label: str,
        fsync: bool = True,
        workers: int = 1,
    ) -> None:
        self.port = free_port()
        self.metadata_port = free_port()
        self.log = os.path.join(workdir, f"keypairs-api-{label}.log")
        self.config = os.path.join(workdir, f"keypairs-{label}.conf")
        write_host_config(
            self.config,
            workdir,
            url,
            algorithm,
            fsync,
            log_file=self.log,
            port=self.port,
            metadata_port=self.metadata_port,
            workers=workers,
        )
        self.proc = subprocess.Popen(
            api_command() + ["--config-file", self.config],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log + ".stderr", "w"),
        )
        wait_ready(self.port, proc=self.proc)

    def rss(self) -> dict[str, int]:
        """The first worker's (the command's own process only supervises)."""
        return read_rss(worker_pids(self.proc.pid)[0])

    def stop(self) -> None:
        stop_process(self.proc)


class BareApp:
    """``python -m MODULE PORT THREADS ARGS...`` in a subprocess: a bare app of the bench."""

    def __init__(self, module: str = "bench.hello", *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, str(self.port), str(THREADS), *args],
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        wait_ready(self.port, proc=self.proc)

    def rss(self) -> dict[str, int]:
        """Its worker's, as the host's."""
        return read_rss(worker_pids(self.proc.pid)[0])

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_pids(pid: int) -> list[int]:
    """The serving processes under a keypairs-api (or bench app) process."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return sorted(int(child) for child in f.read().split())
    except OSError:
        return []


def read_rss(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key + "_kib"] = int(value.split()[0])
    return values
