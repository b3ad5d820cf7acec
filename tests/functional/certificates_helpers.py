"""Helpers of the SSH certificate tests: a host with certificates on, a 1.3 client."""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from keypairs_ext.host import app
from tests.conftest import Client, build_host

EXTENDED = "compute 2.92, keypairs 1.3"
ADMIN = "admin:{project}"


def write_key_file(directory: pathlib.Path) -> str:
    path = directory / "ca-sealing.key"
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    path.chmod(0o600)
    return str(path)


def certificate_overrides(directory: pathlib.Path, **more: Any) -> dict[str, Any]:
    return {
        "certificates__enabled": True,
        "certificates__key_file": write_key_file(directory),
        **more,
    }


@pytest.fixture(scope="module", params=("sqlite", "postgresql"), name="cert_host")
def cert_host(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[app.Host]:
    """One host with certificates enabled per module and backend."""
    state = tmp_path_factory.mktemp("cert-host")
    if request.param == "sqlite":
        url = f"sqlite:///{state}/keypairs.sqlite"
    else:
        url = request.getfixturevalue("postgresql_url")
    host = build_host(url, str(state), **certificate_overrides(state))
    yield host
    host.close()


class Project:
    """Users of one project of their own, speaking keypairs 1.3."""

    def __init__(self, wsgi_app: Any, name: str | None = None) -> None:
        self.app = wsgi_app
        self.id = name or f"project-{uuid.uuid4().hex[:10]}"

    def user(self, name: str) -> str:
        """The user id of ``name`` here: keypairs belong to users, across projects."""
        return f"{name}-{self.id}"

    def client(self, user: str = "alice") -> Client:
        return Client(self.app, f"{self.user(user)}:{self.id}")

    def admin(self) -> Client:
        return Client(self.app, f"admin:{self.id}")


def call(client: Client, method: str, path: str, body: Any = None, version: str = EXTENDED):
    return client.request(method, path, body, headers={"OpenStack-API-Version": version})


def new_key(directory: pathlib.Path, name: str) -> tuple[pathlib.Path, str]:
    """A fresh ed25519 private key file (mode 600) and its public line."""
    key = ed25519.Ed25519PrivateKey.generate()
    path = directory / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return path, public.decode()


def import_key(client: Client, name: str, public_key: str) -> dict:
    response = call(
        client, "POST", "/v2.1/os-keypairs", {"keypair": {"name": name, "public_key": public_key}}
    )
    assert response.status_int == 201, response.text
    return response.json["keypair"]


def issue(client: Client, keypair: str, **fields: Any):
    body = {"certificate": {"principals": ["ubuntu"], **fields}}
    return call(client, "POST", f"/v2.1/os-keypairs/{keypair}/certificates", body)


def ssh_keygen_list(certificate_line: str, directory: pathlib.Path) -> str:
    """``ssh-keygen -L`` of a certificate line."""
    path = directory / f"cert-{uuid.uuid4().hex[:8]}-cert.pub"
    path.write_text(certificate_line + "\n")
    result = subprocess.run(
        ["ssh-keygen", "-L", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
