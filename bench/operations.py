"""The requests the benchmark makes: what each operation sends and expects,
and the keys its bodies carry."""

from __future__ import annotations

import dataclasses
import http.client
import json
from typing import Any

VERSION = "2.92"
EXTENDED = f"{VERSION}, keypairs 1.0"  # build() prefixes "compute "
KP = "/v2.1/os-keypairs"


@dataclasses.dataclass(frozen=True)
class Op:
    """One kind of request, buildable in any process."""

    name: str
    kind: str  # get | import | generate | extended | validate | delete | server
    port: int
    path: str = "/"
    token: str = "bench:bench"
    version: str | None = VERSION
    expect: int = 200
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def build(op: Op, tag: str, i: int) -> tuple[str, str, bytes | None, dict[str, str]] | None:
    """The i-th request of ``op`` for client ``tag``; None when out of work."""
    headers = {"X-Auth-Token": op.token, **op.headers}
    if op.version:
        headers["OpenStack-API-Version"] = f"compute {op.version}"
    if op.kind == "get":
        return "GET", op.path, None, headers
    headers["Content-Type"] = "application/json"
    if op.kind == "import":
        body = {
            "keypair": {
                "name": f"{op.params['prefix']}-{tag}-{i}",
                "public_key": op.params["public_key"],
                "type": "ssh",
            }
        }
        return "POST", op.path, json.dumps(body).encode(), headers
    if op.kind == "generate":
        body = {"keypair": {"name": f"{op.params['prefix']}-{tag}-{i}", "type": "ssh"}}
        return "POST", op.path, json.dumps(body).encode(), headers
    if op.kind == "extended":
        # A create through the extended contract: generation options or a public key.
        keypair = {"name": f"{op.params['prefix']}-{tag}-{i}", **op.params["fields"]}
        return "POST", op.path, json.dumps({"keypair": keypair}).encode(), headers
    if op.kind == "validate":
        return "POST", op.path, json.dumps({"keypair": op.params["fields"]}).encode(), headers
    if op.kind == "delete":
        pool = op.params["pools"][tag]
        if i >= len(pool):
            return None
        return "DELETE", f"{op.path}/{pool[i]}", None, headers
    if op.kind == "server":
        server = {"name": f"srv-{tag}-{i}", "flavorRef": "1", "imageRef": "cirros"}
        if op.params.get("key_name"):
            server["key_name"] = op.params["key_name"]
        return "POST", op.path, json.dumps({"server": server}).encode(), headers
    raise ValueError(op.kind)


class UnexpectedStatus(RuntimeError):
    pass


def send(conn: http.client.HTTPConnection, request: tuple, expect: int) -> None:
    method, path, body, headers = request
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != expect:
        raise UnexpectedStatus(f"{method} {path}: {response.status} {data[:300]!r}")


def create_server(port: int, token: str, key_name: str) -> str:
    """Create a server with ``key_name`` through the API; its id."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    body = {"server": {"name": "md", "flavorRef": "1", "imageRef": "x", "key_name": key_name}}
    conn.request(
        "POST",
        "/v2.1/servers",
        json.dumps(body),
        {
            "X-Auth-Token": token,
            "Content-Type": "application/json",
            "OpenStack-API-Version": f"compute {VERSION}",
        },
    )
    server_id = json.loads(conn.getresponse().read())["server"]["id"]
    conn.close()
    return str(server_id)


# --- keys ----------------------------------------------------------------------------


def public_keys() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    keys: dict[str, Any] = {
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ecdsa-p256": ec.generate_private_key(ec.SECP256R1()),
        "rsa-2048": rsa.generate_private_key(65537, 2048),
    }
    return {
        name: key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " bench@host"
        for name, key in keys.items()
    }


def extended_public_keys() -> dict[str, str]:
    """One public key in each input format the extended import reads."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    line = ed.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    data = line.split()[1]
    rfc4716 = "\n".join(
        [
            "---- BEGIN SSH2 PUBLIC KEY ----",
            'Comment: "bench@host"',
            *(data[i : i + 70] for i in range(0, len(data), 70)),
            "---- END SSH2 PUBLIC KEY ----",
        ]
    )
    pem = serialization.Encoding.PEM
    return {
        "openssh ed25519": line + " bench@host",
        "rfc4716 ed25519": rfc4716 + "\n",
        "pem-spki ed25519": ed.public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "pkcs1 rsa-2048": rsa_key.public_bytes(pem, serialization.PublicFormat.PKCS1).decode(),
    }


# What the extended contract generates: (label, body fields, slow).  Every
# algorithm in its default format, every private key format (pem is not
# offered for ed25519, so on P-256), and the two passphrase KDFs that cost
# most by design (OpenSSH bcrypt, 16 rounds; PPK Argon2id, 8 MiB x 13 passes).
PASSPHRASE = "correct horse battery staple"
EXTENDED_GENERATE: list[tuple[str, dict[str, Any], bool]] = [
    ("ext generate ed25519", {"algorithm": "ed25519"}, False),
    ("ext generate ecdsa-p256", {"algorithm": "ecdsa-p256"}, False),
    ("ext generate ecdsa-p384", {"algorithm": "ecdsa-p384"}, False),
    ("ext generate ecdsa-p521", {"algorithm": "ecdsa-p521"}, False),
    ("ext generate rsa-2048", {"algorithm": "rsa", "bits": 2048}, True),
    ("ext gen ed25519 pkcs8", {"algorithm": "ed25519", "private_key_format": "pkcs8"}, False),
    ("ext gen ecdsa-p256 pem", {"algorithm": "ecdsa-p256", "private_key_format": "pem"}, False),
    ("ext gen ed25519 ppk", {"algorithm": "ed25519", "private_key_format": "ppk"}, False),
    (
        "ext gen ed25519 openssh+pass",
        {"algorithm": "ed25519", "private_key_format": "openssh", "passphrase": PASSPHRASE},
        True,
    ),
    (
        "ext gen ed25519 ppk+pass",
        {"algorithm": "ed25519", "private_key_format": "ppk", "passphrase": PASSPHRASE},
        True,
    ),
]
