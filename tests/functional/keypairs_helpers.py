"""Helpers of the os-keypairs functional tests: keys, hosts, a checked client.

* Keys are made with ``cryptography`` (RSA once per session; Ed25519 afresh,
  it costs microseconds), and checked against ``ssh-keygen`` where the SPEC
  names it.
* ``shared_host``: one host per test module and backend (SQLite and
  PostgreSQL).  Tests isolate themselves by acting as a user of their own
  (``api`` fixture), which is cheaper than a database per test; tests that
  need other configuration use conftest's ``make_host``.
* :class:`KeypairsAPI` speaks os-keypairs as one user at one microversion and
  checks every success against the strict schemas of ``response_schemas``.

Test modules pick up the fixtures with ``shared_host = helpers.shared_host``
and ``api = helpers.api`` (fixtures are found by their declared names).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import webob
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from keypairs_ext.crypto.x509 import self_signed_certificate
from keypairs_ext.host import app
from tests.conftest import BACKENDS, Client, build_host, fault, run_program
from tests.functional import response_schemas
from tests.support import ed25519_line
from tests.unit.crypto.malformed_keys import ssh_string

#: microversions on both sides of every os-keypairs change
BOUNDARIES = ("2.1", "2.2", "2.9", "2.10", "2.34", "2.35", "2.74", "2.75", "2.91", "2.92")
ADMIN = "admin:adminproject"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- keys ------------------------------------------------------------------------


def _openssh(key: Any) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")


@functools.cache
def rsa_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def rsa_line(bits: int = 2048) -> str:
    return _openssh(rsa_private_key(bits).public_key()) + " rsa@example"


@functools.cache
def ecdsa_line(curve_bits: int) -> str:
    curve = {256: ec.SECP256R1(), 384: ec.SECP384R1(), 521: ec.SECP521R1()}[curve_bits]
    return _openssh(ec.generate_private_key(curve).public_key())


def sk_ed25519_line() -> str:
    """A FIDO ``sk-ssh-ed25519@openssh.com`` line (made by hand, as a token would)."""
    label = b"sk-ssh-ed25519@openssh.com"
    point = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    blob = ssh_string(label) + ssh_string(point) + ssh_string(b"ssh:")
    return f"{label.decode()} {base64.b64encode(blob).decode()}"


def sk_ecdsa_line() -> str:
    label = b"sk-ecdsa-sha2-nistp256@openssh.com"
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    blob = ssh_string(label) + ssh_string(b"nistp256") + ssh_string(point) + ssh_string(b"ssh:")
    return f"{label.decode()} {base64.b64encode(blob).decode()}"


#: key type label -> a factory of public lines of that type
KEY_FACTORIES = {
    "ssh-ed25519": ed25519_line,
    "ecdsa-sha2-nistp256": lambda: ecdsa_line(256),
    "ecdsa-sha2-nistp384": lambda: ecdsa_line(384),
    "ecdsa-sha2-nistp521": lambda: ecdsa_line(521),
    "ssh-rsa": rsa_line,
    "sk-ssh-ed25519@openssh.com": sk_ed25519_line,
    "sk-ecdsa-sha2-nistp256@openssh.com": sk_ecdsa_line,
}


@functools.cache
def x509_certificate() -> str:
    """A self-signed PEM certificate (Ed25519, cheap to make)."""
    key = ed25519.Ed25519PrivateKey.generate()
    certificate = self_signed_certificate(key, "functional", days=1)
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def md5_fingerprint(public_line: str) -> str:
    """What the SPEC calls the fingerprint: MD5 of the decoded blob."""
    digest = hashlib.md5(base64.b64decode(public_line.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def sha1_fingerprint(certificate_pem: str) -> str:
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    digest = certificate.fingerprint(hashes.SHA1()).hex()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def ssh_keygen_md5(public_key: str) -> str:
    """``ssh-keygen -l -E md5`` of a public key, without the ``MD5:`` prefix."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "key.pub")
        with open(path, "w") as file:
            file.write(public_key if public_key.endswith("\n") else public_key + "\n")
        return (
            run_program("ssh-keygen", "-l", "-E", "md5", "-f", path).split()[1].removeprefix("MD5:")
        )


def ssh_keygen_public(private_key: str) -> str:
    """``ssh-keygen -y``: the public line a private key yields."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "id")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
            file.write(private_key)
        return run_program("ssh-keygen", "-y", "-f", path).strip()


def key_part(line: str) -> str:
    """``type base64`` of an OpenSSH line (what ssh-keygen -y prints, less comment)."""
    return " ".join(line.split()[:2])


# --- hosts -----------------------------------------------------------------------------


_FAST_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


@pytest.fixture(scope="module", params=BACKENDS, name="shared_host")
def shared_host(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[app.Host]:
    """One host per module and backend; ``HOST_OVERRIDES`` in the module configure it."""
    state = tmp_path_factory.mktemp("shared-host")
    with tempfile.TemporaryDirectory(dir=_FAST_DIR) as directory:
        if request.param == "sqlite":
            # On tmpfs when there is one: the same SQLite, without fsync waits.
            url = f"sqlite:///{directory}/keypairs.sqlite"
        else:
            url = request.getfixturevalue(f"{request.param}_url")
        overrides = getattr(request.module, "HOST_OVERRIDES", {})
        host = build_host(url, str(state), **overrides)
        yield host
        host.close()


@pytest.fixture(name="api")
def api(shared_host: app.Host) -> KeypairsAPI:
    """os-keypairs as a user of this test's own, at 2.1 (``api.at("2.x")``)."""
    return KeypairsAPI(shared_host.api)


# --- the checked client ------------------------------------------------------------------

Query = str | Sequence[tuple[str, str]] | dict[str, str] | None


@dataclasses.dataclass
class KeypairsAPI:
    """os-keypairs calls of one user at one microversion.

    ``version`` "2.0" is the legacy dialect: ``/v2/{project}`` (or
    ``legacy_root="/v1.1"``) without microversion headers.  The checked
    calls (``create``, ``generate``, ``list``, ``show``, ``delete``) assert
    the success status and the strict schema, and return the body;
    ``request`` returns the raw response and ``refused`` asserts a fault.
    """

    app: Any
    user: str = dataclasses.field(default_factory=lambda: unique("user"))
    project: str = dataclasses.field(default_factory=lambda: unique("project"))
    version: str = "2.1"
    project_in_path: bool = False
    legacy_root: str = "/v2"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    # --- variations ---------------------------------------------------------

    def at(self, version: str) -> KeypairsAPI:
        return dataclasses.replace(self, version=version)

    def with_project_in_path(self, value: bool = True) -> KeypairsAPI:
        return dataclasses.replace(self, project_in_path=value)

    def as_user(self, user: str, project: str | None = None) -> KeypairsAPI:
        return dataclasses.replace(self, user=user, project=project or self.project)

    def as_admin(self) -> KeypairsAPI:
        return self.as_user("admin", "adminproject")

    def legacy(self, root: str = "/v2") -> KeypairsAPI:
        return dataclasses.replace(self, version="2.0", legacy_root=root)

    @property
    def is_legacy(self) -> bool:
        return self.version == "2.0"

    @property
    def client(self) -> Client:
        return Client(
            self.app, f"{self.user}:{self.project}", None if self.is_legacy else self.version
        )

    # --- URLs ---------------------------------------------------------------

    @property
    def root(self) -> str:
        if self.is_legacy:
            return f"{self.legacy_root}/{self.project}"
        return f"/v2.1/{self.project}" if self.project_in_path else "/v2.1"

    def path(
        self, name: str | None = None, query: Query = None, collection: str = "/os-keypairs"
    ) -> str:
        path = self.root + collection
        if name is not None:
            path += "/" + quote(name, safe="")
        if query:
            path += "?" + (query if isinstance(query, str) else urlencode(query))
        return path

    # --- raw ----------------------------------------------------------------

    def request(
        self,
        method: str,
        name: str | None = None,
        *,
        query: Query = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        content_type: str = "application/json",
    ) -> webob.Response:
        return self.client.request(
            method,
            path or self.path(name, query),
            body,
            headers={**self.headers, **(headers or {})},
            raw=raw,
            content_type=content_type,
        )

    def post(self, keypair: dict[str, Any], **kw: Any) -> webob.Response:
        return self.request("POST", body={"keypair": keypair}, **kw)

    # --- checked ------------------------------------------------------------

    def check(self, operation: str, response: webob.Response) -> Any:
        return response_schemas.check(operation, self.version, response)

    def create(self, name: str, public_key: str | None = None, **fields: Any) -> dict:
        """Import ``public_key`` (a fresh Ed25519 key by default); the keypair view."""
        public_key = ed25519_line() if public_key is None else public_key
        response = self.post({"name": name, "public_key": public_key, **fields})
        keypair = self.check("create_keypair", response)["keypair"]
        assert "private_key" not in keypair, keypair
        return keypair

    def generate(self, name: str, **fields: Any) -> dict:
        """Let the server generate the keypair; the view with private_key."""
        response = self.post({"name": name, **fields})
        keypair = self.check("create_keypair", response)["keypair"]
        assert keypair["private_key"], keypair
        return keypair

    def list(self, query: Query = None, **kw: Any) -> dict:
        return self.check("list_keypairs", self.request("GET", query=query, **kw))

    def names(self, query: Query = None) -> list[str]:
        return [entry["keypair"]["name"] for entry in self.list(query)["keypairs"]]

    def show(self, name: str, query: Query = None) -> dict:
        return self.check("get_keypair", self.request("GET", name, query=query))["keypair"]

    def delete(self, name: str, query: Query = None) -> None:
        self.check("delete_keypair", self.request("DELETE", name, query=query))

    def refused(
        self,
        method: str,
        name: str | None = None,
        *,
        status: int,
        message: str | None = None,
        **kw: Any,
    ) -> str:
        """Assert a fault of ``status`` whose message contains ``message``."""
        return expect_fault(self.request(method, name, **kw), status, message)


FAULT_NAMES = {
    400: "badRequest",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "computeFault",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    500: "computeFault",
}


def expect_fault(response: webob.Response, status: int, message: str | None = None) -> str:
    """Assert a compute fault of ``status`` containing ``message``; its message."""
    assert response.status_int == status, (response.status, response.body[:800])
    response_schemas.validate_body(response.json, response_schemas.FAULT)
    name, _, text = fault(response)
    assert name == FAULT_NAMES[status], response.json
    if message is not None:
        assert message in text, (message, text)
    assert "Traceback" not in text
    return text
