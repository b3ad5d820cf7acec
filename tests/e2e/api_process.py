"""A real ``keypairs-api`` process on loopback ports, for end-to-end tests."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import socket
import subprocess
import time
from typing import Any

from tests.support import command, free_port


class ApiProcess:
    """``keypairs-api --config-file`` with the compute API and metadata service."""

    def __init__(self, workdir: pathlib.Path, **sections: dict[str, Any]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.metadata_port = free_port()
        self.secret = "e2e-metadata-secret"
        config: dict[str, dict[str, Any]] = {
            "DEFAULT": {"state_path": workdir / "state"},
            "api": {"bind_port": self.port},
            "metadata": {"bind_port": self.metadata_port, "shared_secret": self.secret},
        }
        for section, options in sections.items():
            config.setdefault(section, {}).update(options)
        self.config_file = workdir / "keypairs.conf"
        self.config_file.write_text(
            "".join(
                f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in options.items())
                for section, options in config.items()
            )
        )
        self.log_file = workdir / "keypairs-api.log"
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2.1"

    def start(self, timeout: float = 60) -> ApiProcess:
        self.process = subprocess.Popen(
            [
                command("keypairs-api"),
                "--config-file",
                str(self.config_file),
                "--log-file",
                str(self.log_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"keypairs-api exited: {self.process.stderr.read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("keypairs-api did not start listening")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str = "user1:project1",
        version: str = "2.1",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"X-Auth-Token": token, "OpenStack-API-Version": f"compute {version}"}
        sent.update(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body)
            sent["Content-Type"] = "application/json"
        connection.request(method, "/v2.1" + path, body=payload, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        return response.status, json.loads(raw) if raw else None

    def metadata(
        self, path: str, instance_id: str, signature: str | None = None
    ) -> tuple[int, str]:
        from keypairs_ext.host.metadata import sign

        connection = http.client.HTTPConnection("127.0.0.1", self.metadata_port, timeout=30)
        connection.request(
            "GET",
            path,
            headers={
                "X-Instance-ID": instance_id,
                "X-Instance-ID-Signature": signature or sign(instance_id, self.secret),
            },
        )
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        return response.status, text
