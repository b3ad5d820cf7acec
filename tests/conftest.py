"""Shared fixtures: database backends, hosts built from config, an API client.

Backends: SQLite always; PostgreSQL and MariaDB/MySQL when their servers
answer (``KEYPAIRS_TEST_POSTGRESQL_URL`` / ``KEYPAIRS_TEST_MYSQL_URL``
override the default local URLs).  With ``KEYPAIRS_REQUIRE_SERVERS=1`` (set by
``.ci/run``) an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import webob
from oslo_policy import opts as policy_opts

from keypairs_ext.host import app, database, notifications
from keypairs_ext.host import conf as host_conf
from keypairs_ext.host.db import migrate

POSTGRESQL_URL = os.environ.get(
    "KEYPAIRS_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_URL = os.environ.get(
    "KEYPAIRS_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql?charset=utf8mb4"
)
REQUIRE_SERVERS = os.environ.get("KEYPAIRS_REQUIRE_SERVERS") == "1"
BACKENDS = ("sqlite", "postgresql")
#: for tests marked ``mariadb``: behaviour the database decides (collation, types, locks)
ALL_BACKENDS = (*BACKENDS, "mysql")
TABLES = (
    "ssh_certificates",
    "ssh_revoked_keys",
    "ssh_certificate_authorities",
    "key_pairs",
    "key_pair_usages",
    "instances",
)


def _reachable(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 0), timeout=1):
            return True
    except OSError:
        return False


def _need(url: str, what: str) -> None:
    if not _reachable(url):
        message = f"{what} is not reachable at {sa.engine.make_url(url).render_as_string()}"
        if REQUIRE_SERVERS:
            pytest.fail(message + " (KEYPAIRS_REQUIRE_SERVERS=1)")
        pytest.skip(message)


def need_program(program: str, package: str) -> str:
    """The path of a system tool the test needs; skip (or fail in CI) without it."""
    path = program if os.path.isabs(program) and os.path.exists(program) else shutil.which(program)
    if path:
        return path
    message = f"{program} is not installed (Debian package {package}; .ci/run installs it)"
    if REQUIRE_SERVERS:
        pytest.fail(message + " (KEYPAIRS_REQUIRE_SERVERS=1)")
    pytest.skip(message)


def run_program(*args: Any, timeout: float = 60) -> str:
    """Run a program (no stdin); assert it succeeded and return its output."""
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed: {result.stderr}"
    return result.stdout


def create_database(server_url: str) -> str:
    """A new, empty database on the server; returns its URL."""
    url = sa.engine.make_url(server_url)
    name = f"keypairs_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if url.get_backend_name() == "mysql":
            connection.exec_driver_sql(
                f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            )
        else:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, database_url: str) -> None:
    name = sa.engine.make_url(database_url).database
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        else:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    _need(POSTGRESQL_URL, "PostgreSQL")
    url = create_database(POSTGRESQL_URL)
    yield url
    drop_database(POSTGRESQL_URL, url)


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    _need(MYSQL_URL, "MariaDB/MySQL")
    url = create_database(MYSQL_URL)
    yield url
    drop_database(MYSQL_URL, url)


def extension_classes(conf: Any) -> list:
    from keypairs_ext.host import loader

    return loader.select(loader.find_installed(), conf.api.enabled_extensions)


_migrated: set[str] = set()


def _prepare_shared(url: str) -> None:
    """Migrate a shared server database once, then empty it for each test."""
    engine = sa.create_engine(url)
    if url not in _migrated:
        conf = app.make_conf([])
        migrate.sync(engine, extension_classes(conf))
        _migrated.add(url)
    with engine.begin() as connection:
        for table in TABLES:
            connection.exec_driver_sql(f"DELETE FROM {table}")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A database with no tables at all, on each backend (for migrations)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.sqlite"
        return
    _need(POSTGRESQL_URL, "PostgreSQL")
    url = create_database(POSTGRESQL_URL)
    yield url
    drop_database(POSTGRESQL_URL, url)


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``mariadb`` run their database fixtures on MariaDB too."""
    if metafunc.definition.get_closest_marker("mariadb") is None:
        return
    for name in ("database_url", "shared_host"):
        if name in metafunc.fixturenames:
            # A parametrize mark takes precedence over the fixture's own params.
            metafunc.definition.add_marker(
                pytest.mark.parametrize(name, ALL_BACKENDS, indirect=True)
            )


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/keypairs.sqlite"
    url = request.getfixturevalue(f"{request.param}_url")
    _prepare_shared(url)
    return url


def build_host(database_url: str, state_path: str, **overrides: Any) -> app.Host:
    """A migrated host on ``database_url``; ``group__option=value`` overrides."""
    conf = app.make_conf([])
    conf.set_override("state_path", state_path)
    conf.set_override("connection", database_url, group="database")
    conf.set_override("shared_secret", "metadata-secret", group="metadata")
    # Extension options exist once the extension classes register them.
    for cls in extension_classes(conf):
        cls.register_opts(conf)
    if any(key.startswith("keystone_authtoken__") for key in overrides):
        host_conf.register_keystone_opts(conf)
    if any(key.startswith("oslo_policy__") for key in overrides):
        policy_opts.set_defaults(conf)
    if any(key.startswith("oslo_messaging") for key in overrides):
        notifications.register_bus_opts(conf)
    for key, value in overrides.items():
        group, _, name = key.partition("__")
        conf.set_override(name, value, group=None if group == "DEFAULT" else group)
    host = app.build(conf)
    migrate.sync(host.database.writer.get_engine(), [type(e) for e in host.extensions])
    return host


def one_connection_engine(url: str) -> Any:
    """The host's autocommit engine on ``url``, with a pool of one connection."""
    conf = app.make_conf([])
    conf.set_override("connection", url, group="database")
    conf.set_override("max_pool_size", 1, group="database")
    conf.set_override("max_overflow", 0, group="database")
    engine = database.create_autocommit_engine(conf)
    assert engine is not None
    return engine


@pytest.fixture
def make_host(tmp_path: Any, database_url: str):
    """Build a host: ``make_host(api__max_limit=5, quota__key_pairs=3)``."""
    hosts = []

    def build(**overrides: Any) -> app.Host:
        host = build_host(database_url, str(tmp_path), **overrides)
        hosts.append(host)
        return host

    yield build
    for host in hosts:
        host.close()


class Client:
    """Calls a WSGI app in process, the way a compute client would."""

    def __init__(
        self, wsgi_app: Any, token: str | None = "user1:project1", version: str | None = None
    ):
        self.app = wsgi_app
        self.token = token
        self.version = version

    def as_user(self, token: str | None, version: str | None = None) -> Client:
        return Client(self.app, token, version if version is not None else self.version)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        version: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> webob.Response:
        request = webob.Request.blank(path, method=method)
        if self.token is not None:
            request.headers["X-Auth-Token"] = self.token
        version = version or self.version
        if version is not None:
            request.headers["OpenStack-API-Version"] = f"compute {version}"
        if headers:
            request.headers.update(headers)
        if raw is not None:
            request.body = raw
            request.content_type = content_type
        elif body is not None:
            request.body = json.dumps(body).encode()
            request.content_type = content_type
        return request.get_response(self.app)

    def get(self, path: str, **kw: Any) -> webob.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("POST", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> webob.Response:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def host(make_host: Any) -> app.Host:
    return make_host()


@pytest.fixture
def client(host: app.Host) -> Client:
    return Client(host.api)


def fault(response: webob.Response) -> tuple[str, int, str]:
    """(fault name, code, message) of a compute fault body; fails otherwise."""
    body = response.json
    assert len(body) == 1, body
    ((name, inner),) = body.items()
    assert set(inner) == {"code", "message"}, body
    assert inner["code"] == response.status_int
    return name, inner["code"], inner["message"]
