"""Fixtures for the end-to-end tests: a real Keystone (and Tempest).

The tools come from ``.ci/e2e-tools.sh``. Without them these tests skip,
unless ``KEYPAIRS_REQUIRE_SERVERS=1`` (set by ``.ci/run``) or
``KEYPAIRS_E2E_REQUIRE=1``: then a missing tool fails the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_program
from tests.e2e.api_process import ApiProcess
from tests.e2e.keystone_server import KeystoneServer, keystone_available, tools_dir
from tests.e2e.tempest_config import tempest_available
from tests.support import command, free_port

REQUIRE_TOOLS = "1" in (
    os.environ.get("KEYPAIRS_REQUIRE_SERVERS"),
    os.environ.get("KEYPAIRS_E2E_REQUIRE"),
)


def need_tool(available: bool, what: str) -> None:
    if available:
        return
    message = f"{what} is not installed under {tools_dir()}: run .ci/e2e-tools.sh"
    if REQUIRE_TOOLS:
        pytest.fail(message + " (KEYPAIRS_REQUIRE_SERVERS=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneServer]:
    """One Keystone for the whole session (starting one takes ~5-15 s)."""
    need_tool(keystone_available(), "keystone")
    server = KeystoneServer(tmp_path_factory.mktemp("keystone"), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tempest_tools() -> None:
    need_tool(tempest_available(), "tempest")


# --- A compute cloud: Keystone + keypairs-api, found through the catalog -----------
#
# The session Keystone lives in one xdist worker (group "keystone"); every test
# that uses it is put in that group, even one that forgets the marker, so that
# no second Keystone starts on another worker.

KEYSTONE_GROUP = "keystone"


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    # Before every other implementation (xdist's reads the groups): the group.
    for item in items:
        if "keystone" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "xdist_group"
        ):
            item.add_marker(pytest.mark.xdist_group(KEYSTONE_GROUP))
    yield
    # After them: make xdist's group suffix take.
    _xdist_group_suffix(config, items)


def _xdist_group_suffix(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` on pytest 9.2 with pytest-xdist 3.8: xdist marks a
    test's group by appending ``@group`` to ``item._nodeid``, which pytest 9.2
    no longer reads (node ids are structured, ``item._id``), so every group
    was silently spread over all workers (pytest-xdist issue #1386) and each
    worker started a Keystone of its own. Append the suffix where xdist's did
    not take; nothing to do without loadgroup or where xdist's works. (This
    hook sees every item of the session, not only tests/e2e's.)"""
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest before 9.2: xdist's suffix works
        return
    for item in items:
        groups = sorted(
            {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
        )
        nodeid = item.nodeid
        if not groups or nodeid.rfind("@") > nodeid.rfind("]"):
            continue
        if isinstance(getattr(item, "_id", None), NodeId):
            item._id = NodeId.parse(f"{nodeid}@{'_'.join(groups)}")


E2E_ROLES = ("admin", "member", "reader")
E2E_PROJECTS = ("kp-e2e-alpha", "kp-e2e-beta")


@dataclass
class ComputeCloud:
    """Keystone plus one keypairs-api, registered as ``compute`` in ``region``
    (each API its own region: other tests register computes of their own in
    RegionOne, and a catalog with two computes in one region is ambiguous)."""

    keystone: KeystoneServer
    endpoint: str
    region: str
    accounts: dict[tuple[str, str], dict[str, str]]
    workdir: Path
    api: ApiProcess | None = None
    _home: Path | None = field(default=None, repr=False)

    def account(self, role: str = "member", project: str = E2E_PROJECTS[0]) -> dict[str, str]:
        return self.accounts[(project, role)]

    def new_account(
        self, role: str = "member", project: str = E2E_PROJECTS[0], prefix: str = "kp-e2e"
    ) -> dict[str, str]:
        """A user of its own (keypairs belong to users: a test that counts
        them wants a user nobody else touches)."""
        project_id = self.account(role, project)["project_id"]
        return self.keystone.create_account(
            project_id, [role], name=f"{prefix}-{uuid.uuid4().hex[:10]}"
        )

    def session(self, account: dict[str, str]) -> Any:
        return self.keystone.session(
            account["username"], account["password"], project_id=account["project_id"]
        )

    def os_env(self, account: dict[str, str], **extra: str) -> dict[str, str]:
        """What a user exports before typing ``openstack``: OS_* only, and a
        HOME of its own (no clouds.yaml, no cache from elsewhere)."""
        if self._home is None:
            self._home = self.workdir / "home"
            self._home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
        env.update(
            HOME=str(self._home),
            PYTHONWARNINGS="ignore",
            OS_AUTH_URL=self.keystone.v3_url,
            OS_AUTH_TYPE="password",
            OS_IDENTITY_API_VERSION="3",
            OS_USERNAME=account["username"],
            OS_PASSWORD=account["password"],
            OS_USER_DOMAIN_ID="default",
            OS_PROJECT_ID=account["project_id"],
            OS_REGION_NAME=self.region,
            OS_INTERFACE="public",
        )
        env.update(extra)
        return env

    def openstack(
        self,
        account: dict[str, str],
        *args: str,
        version: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """``openstack ARGS`` as the user would type it."""
        cmd = [command("openstack")]
        if version:
            cmd += ["--os-compute-api-version", version]
        cmd += list(args)
        result = subprocess.run(
            cmd,
            env=self.os_env(account),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {result.returncode}:\n{result.stderr[-3000:]}"
            )
        return result

    def openstack_json(self, account: dict[str, str], *args: str, **kw: Any) -> Any:
        return json.loads(self.openstack(account, *args, "-f", "json", **kw).stdout)

    def sdk(self, account: dict[str, str], version: str | None = None) -> Any:
        """An openstacksdk Connection as ``account``; ``version`` pins the
        compute microversion (None: the sdk negotiates its own)."""
        import openstack

        kwargs: dict[str, Any] = {}
        if version:
            kwargs["compute_api_version"] = version
        return openstack.connection.Connection(
            auth_type="password",
            auth={
                "auth_url": self.keystone.v3_url,
                "username": account["username"],
                "password": account["password"],
                "user_domain_id": "default",
                "project_id": account["project_id"],
            },
            region_name=self.region,
            interface="public",
            identity_api_version="3",
            **kwargs,
        )

    def nova(self, account: dict[str, str], version: str = "2.latest") -> Any:
        """A python-novaclient Client; ``2.latest`` negotiates with the host."""
        from novaclient import client as nova_client

        return nova_client.Client(
            version,
            session=self.session(account),
            region_name=self.region,
            endpoint_type="publicURL",
        )


def register_compute_in_region(keystone: KeystoneServer, url: str, region: str) -> None:
    """Region ``region`` with a compute service at ``url`` and the identity
    endpoint (clients look Keystone up in their own region too)."""
    keystone._call("POST", "/regions", {"region": {"id": region}})
    identity = keystone._call("GET", "/services?type=identity")["services"][0]["id"]
    compute = keystone._call(
        "POST",
        "/services",
        {"service": {"type": "compute", "name": f"nova-{region}", "enabled": True}},
    )["service"]["id"]
    for service, endpoint in ((identity, keystone.v3_url), (compute, url)):
        for interface in ("public", "internal", "admin"):
            keystone._call(
                "POST",
                "/endpoints",
                {
                    "endpoint": {
                        "service_id": service,
                        "interface": interface,
                        "url": endpoint,
                        "region_id": region,
                        "enabled": True,
                    }
                },
            )


def api_sections(keystone: KeystoneServer, **extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """keypairs.conf sections of an API behind ``keystone``."""
    sections: dict[str, dict[str, Any]] = {
        "api": {"auth_strategy": "keystone"},
        "metadata": {"enabled": "true"},
        "keystone_authtoken": keystone.keystone_authtoken_options(),
        # The paging tests hold a few hundred keypairs for one user.
        "quota": {"key_pairs": 1000},
    }
    for section, options in extra.items():
        sections.setdefault(section, {}).update(options)
    return sections


@pytest.fixture(scope="session")
def e2e_accounts(keystone: KeystoneServer) -> dict[tuple[str, str], dict[str, str]]:
    """Two projects, one user per role in each: {(project, role): account}."""
    accounts = {}
    for project_name in E2E_PROJECTS:
        project = keystone.create_project(project_name)
        for role in E2E_ROLES:
            accounts[(project_name, role)] = keystone.create_account(
                project, [role], name=f"{project_name}-{role}"
            )
    return accounts


def _start_cloud(
    keystone: KeystoneServer,
    accounts: dict[tuple[str, str], dict[str, str]],
    workdir: Path,
    region: str,
    database_url: str | None = None,
) -> ComputeCloud:
    extra: dict[str, dict[str, Any]] = {}
    if database_url:
        extra["database"] = {"connection": database_url}
    api = ApiProcess(workdir, **api_sections(keystone, **extra)).start()
    register_compute_in_region(keystone, api.endpoint, region)
    return ComputeCloud(keystone, api.endpoint, region, accounts, workdir, api)


@pytest.fixture(scope="session")
def compute_cloud(
    keystone: KeystoneServer,
    e2e_accounts: dict[tuple[str, str], dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ComputeCloud]:
    """keypairs-api (SQLite) with Keystone auth, compute in region e2e-sqlite."""
    cloud = _start_cloud(keystone, e2e_accounts, tmp_path_factory.mktemp("cloud"), "e2e-sqlite")
    try:
        yield cloud
    finally:
        assert cloud.api is not None
        cloud.api.stop()


@pytest.fixture(scope="session")
def compute_cloud_postgresql(
    keystone: KeystoneServer,
    e2e_accounts: dict[tuple[str, str], dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ComputeCloud]:
    """The same on a fresh PostgreSQL database, in region e2e-postgresql."""
    from tests import conftest as root

    root._need(root.POSTGRESQL_URL, "PostgreSQL")
    url = root.create_database(root.POSTGRESQL_URL)
    try:
        cloud = _start_cloud(
            keystone,
            e2e_accounts,
            tmp_path_factory.mktemp("cloud-pg"),
            "e2e-postgresql",
            database_url=url,
        )
        try:
            yield cloud
        finally:
            assert cloud.api is not None
            cloud.api.stop()
    finally:
        root.drop_database(root.POSTGRESQL_URL, url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def cloud(request: pytest.FixtureRequest) -> ComputeCloud:
    """The compute cloud on each database backend."""
    name = "compute_cloud" if request.param == "sqlite" else "compute_cloud_postgresql"
    return request.getfixturevalue(name)


# --- keys and names -------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ed25519_keypair(comment: str = "") -> tuple[str, str]:
    """(OpenSSH private key, public line) made with cryptography."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, f"{public} {comment}" if comment else public


def md5_fingerprint(public_line: str) -> str:
    """Nova's fingerprint: MD5 of the key blob, lowercase, colon-separated."""
    import base64
    import hashlib

    digest = hashlib.md5(base64.b64decode(public_line.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def ssh_public_key_of(private_key: str, directory: Path) -> str:
    """``ssh-keygen -y`` of a private key: the ``type base64`` it pairs with."""
    path = directory / f"id-{uuid.uuid4().hex[:8]}"
    path.write_text(private_key)
    path.chmod(0o600)
    return " ".join(run_program("ssh-keygen", "-y", "-f", path).split()[:2])


def key_fields(public_line: str) -> str:
    """``type base64`` of a public key line (no comment, no newline)."""
    return " ".join(public_line.split()[:2])


def metadata_public_keys(cloud: ComputeCloud, server_id: str) -> dict[str, str]:
    """``public_keys`` of the server's metadata, read as cloud-init reads it."""
    assert cloud.api is not None
    status, text = cloud.api.metadata("/openstack/latest/meta_data.json", server_id)
    assert status == 200, text
    document = json.loads(text)
    assert document["uuid"] == server_id
    return dict(document["public_keys"])


def import_keys(cloud: ComputeCloud, account: dict[str, str], names: list[str]) -> None:
    """Import one new ed25519 key per name as ``account`` (at 2.35, eight
    requests at a time; the API generating RSA keys would be the slow part)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    token = cloud.session(account).get_token()

    def create(name: str) -> None:
        response = requests.post(
            f"{cloud.endpoint}/os-keypairs",
            json={"keypair": {"name": name, "public_key": ed25519_keypair()[1]}},
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.35"},
            timeout=60,
        )
        assert response.status_code == 201, response.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, names))


PAGING_PREFIXES = ("kp-", "KP-", "Kp_", "k p ", "0-")


@pytest.fixture(scope="session")
def paging_account(cloud: ComputeCloud) -> tuple[dict[str, str], list[str]]:
    """A user of its own holding 250 keypairs, and their names. Mixed case
    and punctuation: the list order is by bytes ("KP-" before "kp-")."""
    account = cloud.new_account("member", prefix="kp-e2e-paging")
    names = [f"{prefix}{i:03d}" for i in range(50) for prefix in PAGING_PREFIXES]
    import_keys(cloud, account, names)
    return account, names


# --- the Galera cluster and its API hosts (tests/e2e/galera_fixtures.py) ---------

from tests.e2e.galera_fixtures import (  # noqa: E402, F401
    galera_cluster,
    galera_database,
    galera_hosts,
)
