"""A real Keystone for the end-to-end tests.

Keystone itself runs from its own virtualenv (built by ``.ci/e2e-tools.sh``,
``${E2E_TOOLS:-/opt/keypairs-e2e}/keystone``) under gunicorn on a loopback
port; everything lives in one temporary directory (SQLite database, fernet
token/receipt keys, credential keys, config, log). This module talks to it
over HTTP with keystoneauth1 from the project's own environment, so it needs
nothing from the keystone venv at import time.

Typical use (see ``conftest.py`` for the pytest fixtures)::

    ks = KeystoneServer(tmp_path / "keystone", free_port())
    ks.start()
    try:
        ks.register_compute("http://127.0.0.1:%d/v2.1" % api_port)
        project = ks.create_project("p1")
        user = ks.create_user("u1", "secret", project=project)
        ks.assign_role(user, project, "member")
        conf = ks.keystone_authtoken_options()  # for the compute API's config
        ...
    finally:
        ks.stop()
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.support import free_port

DEFAULT_TOOLS = "/opt/keypairs-e2e"
LOOPBACK = "127.0.0.1"
REGION = "RegionOne"
DEFAULT_DOMAIN = "default"

# The compute service's own account, in the "service" project, used by
# keystonemiddleware (auth_token) to validate the users' tokens.
SERVICE_PROJECT = "service"
SERVICE_USER = "keypairs"
SERVICE_PASSWORD = "keypairs-service-secret"


class KeystoneError(RuntimeError):
    """Keystone could not be set up, started or driven."""


def tools_dir() -> Path:
    return Path(os.environ.get("E2E_TOOLS") or DEFAULT_TOOLS)


def keystone_venv() -> Path:
    return tools_dir() / "keystone"


def keystone_available() -> bool:
    """True when the keystone venv of .ci/e2e-tools.sh is there."""
    bin_dir = keystone_venv() / "bin"
    return all(os.access(bin_dir / exe, os.X_OK) for exe in ("keystone-manage", "gunicorn"))


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process that started it
    dies (Linux), so a killed test run leaves no Keystone behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# The WSGI entry point gunicorn serves (written into the work directory).
# 1. keystone's app factory parses sys.argv with oslo.config, which chokes on
#    gunicorn's own arguments: clear argv before importing it.
# 2. SQLite: two requests writing at once fail with "database is locked" (a
#    transaction that read first cannot upgrade to a write lock while another
#    one writes; seen when tempest deletes its users and projects in
#    parallel). Requests that may write run one at a time; reads (token
#    validation, catalog, GETs) stay concurrent.
_WSGI_SHIM = """\
import sys
import threading

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application as _keystone  # noqa: E402

_write_lock = threading.Lock()


def application(environ, start_response):
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
        return _keystone(environ, start_response)
    with _write_lock:
        # Keystone's responses are small and fully built here.
        return list(_keystone(environ, start_response))
"""


class KeystoneServer:
    """One Keystone on ``127.0.0.1:port``, state under ``workdir``."""

    def __init__(
        self,
        workdir: os.PathLike[str] | str,
        port: int,
        *,
        admin_user: str = "admin",
        admin_password: str = "admin-secret",
        admin_project: str = "admin",
        region: str = REGION,
        threads: int = 8,
        venv: os.PathLike[str] | str | None = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = int(port)
        self.host = LOOPBACK
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.admin_project = admin_project
        self.region = region
        self.threads = threads
        self.venv = Path(venv) if venv else keystone_venv()
        self.conf_path = self.workdir / "keystone.conf"
        self.log_path = self.workdir / "keystone.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._session: Any = None
        self._role_ids: dict[str, str] = {}
        self._service_user: dict[str, str] | None = None
        self.timings: dict[str, float] = {}

    # -- addresses -----------------------------------------------------------

    @property
    def url(self) -> str:
        """Unversioned root, e.g. ``http://127.0.0.1:35357``."""
        return f"http://{self.host}:{self.port}"

    @property
    def v3_url(self) -> str:
        return f"{self.url}/v3"

    # -- lifecycle -----------------------------------------------------------

    def _bin(self, name: str) -> str:
        path = self.venv / "bin" / name
        if not os.access(path, os.X_OK):
            raise KeystoneError(f"{path} not found: run .ci/e2e-tools.sh (E2E_TOOLS={tools_dir()})")
        return str(path)

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            # Do not let an outer OpenStack or Python setup leak in.
            if not k.startswith(("OS_", "PYTHON", "VIRTUAL_ENV"))
        }
        env["OS_KEYSTONE_CONFIG_DIR"] = str(self.workdir)
        env["OS_KEYSTONE_CONFIG_FILES"] = self.conf_path.name
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        # eventlet (pulled in by oslo.service) warns loudly on import.
        env["PYTHONWARNINGS"] = "ignore"
        return env

    def write_keystone_conf(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for sub in ("fernet-keys", "credential-keys"):
            (self.workdir / sub).mkdir(mode=0o700, exist_ok=True)
        wd = self.workdir
        self.conf_path.write_text(
            textwrap.dedent(
                f"""\
                [DEFAULT]
                log_file = {self.log_path}
                debug = false

                [database]
                connection = sqlite:///{wd / "keystone.db"}

                [token]
                provider = fernet
                expiration = 7200

                [fernet_tokens]
                key_repository = {wd / "fernet-keys"}
                max_active_keys = 3

                [fernet_receipts]
                key_repository = {wd / "fernet-keys"}

                [credential]
                provider = fernet
                key_repository = {wd / "credential-keys"}

                [identity]
                # bcrypt's minimum cost: tempest creates many users.
                password_hash_algorithm = bcrypt
                password_hash_rounds = 4

                [cache]
                # Without a cache every token validation costs ~300 SQL
                # queries (0.3-1 s here); the in-process memory backend makes
                # it ~2 ms. It is per process: hence one gunicorn worker.
                enabled = true
                backend = dogpile.cache.memory

                [oslo_policy]
                enforce_new_defaults = true
                enforce_scope = true
                """
            )
        )
        return self.conf_path

    def _run(self, label: str, cmd: list[str], timeout: float) -> None:
        started = time.monotonic()
        try:
            res = subprocess.run(
                cmd,
                env=self._env(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KeystoneError(f"{label} timed out after {timeout}s") from exc
        self.timings[label] = time.monotonic() - started
        if res.returncode != 0:
            out = res.stdout.decode(errors="replace")[-4000:]
            raise KeystoneError(f"{label} exited {res.returncode}:\n{out}\n{self.log_tail()}")

    def manage_commands(self) -> list[list[str]]:
        """The keystone-manage commands that set up a fresh Keystone."""
        # The repositories are owned by whoever runs the tests (the flags are
        # mandatory: keystone-manage chowns the keys to them).
        owner = [
            "--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
            "--keystone-group", grp.getgrgid(os.getgid()).gr_name,
        ]  # fmt: skip
        return [
            ["db_sync"],
            ["fernet_setup", *owner],
            ["credential_setup", *owner],
            [
                "bootstrap",
                "--bootstrap-username", self.admin_user,
                "--bootstrap-password", self.admin_password,
                "--bootstrap-project-name", self.admin_project,
                "--bootstrap-role-name", "admin",
                "--bootstrap-service-name", "keystone",
                "--bootstrap-region-id", self.region,
                "--bootstrap-admin-url", self.v3_url,
                "--bootstrap-internal-url", self.v3_url,
                "--bootstrap-public-url", self.v3_url,
            ],
        ]  # fmt: skip

    def setup(self, one_process: bool | None = None) -> None:
        """Config, database, key repositories and the bootstrap data:
        ``keystone-manage db_sync``, ``fernet_setup``, ``credential_setup``
        and ``bootstrap``.

        Each keystone-manage process spends ~2.5 s importing keystone, and
        the commands themselves take ~1 s together, so by default they run in
        ONE process of the keystone venv (keystone.cmd.cli.main called once
        per command, oslo.config cleared in between), exactly as
        keystone-manage would run them. ``one_process=False`` (or
        KEYSTONE_E2E_MANAGE=subprocess) runs the real keystone-manage
        once per command instead.
        """
        if one_process is None:
            one_process = os.environ.get("KEYSTONE_E2E_MANAGE") != "subprocess"
        self.write_keystone_conf()
        commands = self.manage_commands()
        base = ["keystone-manage", "--config-file", str(self.conf_path)]
        if not one_process:
            for command in commands:
                cmd = [self._bin("keystone-manage"), *base[1:], *command]
                self._run(f"keystone-manage {command[0]}", cmd, timeout=120)
            return
        driver = self.workdir / "keystone_e2e_manage.py"
        driver.write_text(
            textwrap.dedent(
                f"""\
                import json
                import sys

                from keystone import conf
                from keystone.cmd import cli

                for argv in json.loads(sys.argv[1]):
                    conf.CONF.clear()  # let cli.main() register and parse anew
                    cli.main(argv={base!r} + argv)
                """
            )
        )
        self._bin("keystone-manage")  # a clear error if the venv is missing
        cmd = [str(self.venv / "bin" / "python"), str(driver), json.dumps(commands)]
        self._run("keystone-manage (all)", cmd, timeout=180)

    def start(self, timeout: float = 60) -> KeystoneServer:
        """Set up (if not done) and serve; return once ``GET /v3`` answers."""
        if self.proc is not None:
            raise KeystoneError("keystone already started")
        started = time.monotonic()
        if not (self.workdir / "keystone.db").exists():
            self.setup()
        self.timings["setup"] = time.monotonic() - started
        serve_started = time.monotonic()
        (self.workdir / "keystone_e2e_wsgi.py").write_text(_WSGI_SHIM)
        cmd = [
            self._bin("gunicorn"),
            "--bind", f"{self.host}:{self.port}",
            # One process: the memory cache must see every write.
            "--workers", "1",
            "--worker-class", "gthread",
            "--threads", str(self.threads),
            "--timeout", "120",
            "--graceful-timeout", "5",
            "--name", f"keystone-e2e-{self.port}",
            "--log-level", "warning",
            "--error-logfile", str(self.workdir / "gunicorn.log"),
            "--pythonpath", str(self.workdir),
            "keystone_e2e_wsgi:application",
        ]  # fmt: skip
        with open(self.workdir / "gunicorn.out", "ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                env=self._env(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, for stop()
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["serve"] = time.monotonic() - serve_started
        self.timings["start"] = time.monotonic() - started
        return self

    def _wait_ready(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise KeystoneError(
                    f"keystone (gunicorn) exited {self.proc.returncode} "
                    f"during start:\n{self.log_tail()}"
                )
            try:
                resp = requests.get(self.v3_url, timeout=5)
                if resp.status_code == 200 and "version" in resp.json():
                    return
                last = f"HTTP {resp.status_code}"
            except (requests.RequestException, ValueError) as exc:
                last = exc
            time.sleep(0.2)
        raise KeystoneError(
            f"keystone not answering GET {self.v3_url} after {timeout}s "
            f"(last: {last}):\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 10) -> None:
        """Terminate gunicorn and its workers (idempotent)."""
        proc, self.proc = self.proc, None
        self._session = None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                # gunicorn: INT = quick shutdown (TERM waits for the workers'
                # graceful timeout); nothing of keystone's needs a clean exit.
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        # Workers left behind by a crashed master (same process group).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> KeystoneServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cleanup(self) -> None:
        """stop() and remove the work directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        chunks = []
        for name in ("keystone.log", "gunicorn.log", "gunicorn.out"):
            path = self.workdir / name
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                chunks.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(chunks) or "(no log)"

    # -- talking to it -------------------------------------------------------

    def session(
        self,
        username: str | None = None,
        password: str | None = None,
        project_name: str | None = None,
        *,
        project_id: str | None = None,
        system_scope: str | None = None,
    ) -> Any:
        """A keystoneauth1 Session with v3 password auth (admin by default)."""
        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v3

        kwargs: dict[str, Any] = {
            "auth_url": self.v3_url,
            "username": username or self.admin_user,
            "password": password or self.admin_password,
            "user_domain_id": DEFAULT_DOMAIN,
        }
        if system_scope:
            kwargs["system_scope"] = system_scope
        elif project_id:
            kwargs["project_id"] = project_id
        else:
            kwargs["project_name"] = project_name or (
                self.admin_project if username is None else None
            )
            if kwargs["project_name"] is None:
                del kwargs["project_name"]
            else:
                kwargs["project_domain_id"] = DEFAULT_DOMAIN
        return ks_session.Session(auth=v3.Password(**kwargs))

    @property
    def admin(self) -> Any:
        """Admin session (project-scoped on the admin project), cached."""
        if self._session is None:
            self._session = self.session()
        return self._session

    def _call(self, method: str, path: str, json: Mapping[str, Any] | None = None) -> Any:
        from keystoneauth1 import exceptions as ks_exc

        try:
            resp = self.admin.request(self.v3_url + path, method, json=json, raise_exc=True)
        except ks_exc.HttpError as exc:
            raise KeystoneError(
                f"{method} {path} -> {exc.http_status}: {exc.response.text[:500]}"
            ) from exc
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def _find(self, collection: str, name: str, **filters: str) -> dict | None:
        query = "&".join(f"{k}={v}" for k, v in {"name": name, **filters}.items())
        items = self._call("GET", f"/{collection}?{query}")[collection]
        return items[0] if items else None

    def role_id(self, role: str) -> str:
        if role not in self._role_ids:
            found = self._find("roles", role)
            if found is None:
                found = self._call("POST", "/roles", {"role": {"name": role}})["role"]
            self._role_ids[role] = found["id"]
        return self._role_ids[role]

    def create_project(self, name: str | None = None, **attrs: Any) -> str:
        """Create a project in the default domain; return its id."""
        body = {
            "name": name or f"e2e-{uuid.uuid4().hex[:8]}",
            "domain_id": DEFAULT_DOMAIN,
            "enabled": True,
            **attrs,
        }
        return str(self._call("POST", "/projects", {"project": body})["project"]["id"])

    def create_user(
        self,
        name: str | None = None,
        password: str = "e2e-secret",
        *,
        project: str | None = None,
        **attrs: Any,
    ) -> str:
        """Create a user (default project ``project``, an id); return its id."""
        body: dict[str, Any] = {
            "name": name or f"e2e-{uuid.uuid4().hex[:8]}",
            "password": password,
            "domain_id": DEFAULT_DOMAIN,
            "enabled": True,
            **attrs,
        }
        if project:
            body["default_project_id"] = project
        return str(self._call("POST", "/users", {"user": body})["user"]["id"])

    def assign_role(self, user: str, project: str, role: str) -> None:
        """Grant ``role`` (a name: admin, member, reader, service...)."""
        self._call("PUT", f"/projects/{project}/users/{user}/roles/{self.role_id(role)}")

    def create_account(
        self,
        project: str,
        roles: Iterable[str],
        name: str | None = None,
        password: str = "e2e-secret",
    ) -> dict[str, str]:
        """A user with ``roles`` on ``project``: {user_id, username, password,
        project_id}."""
        name = name or f"e2e-{uuid.uuid4().hex[:8]}"
        user = self.create_user(name, password, project=project)
        for role in roles:
            self.assign_role(user, project, role)
        return {
            "user_id": user,
            "username": name,
            "password": password,
            "project_id": project,
        }

    def register_service(
        self,
        service_type: str,
        url: str,
        *,
        name: str | None = None,
        interfaces: Iterable[str] = ("public", "internal", "admin"),
    ) -> str:
        """Register a service and its endpoints (all at ``url``); return the
        service id."""
        svc = self._call(
            "POST",
            "/services",
            {
                "service": {
                    "type": service_type,
                    "name": name or service_type,
                    "enabled": True,
                }
            },
        )["service"]
        for interface in interfaces:
            self._call(
                "POST",
                "/endpoints",
                {
                    "endpoint": {
                        "service_id": svc["id"],
                        "interface": interface,
                        "url": url,
                        "region_id": self.region,
                        "enabled": True,
                    }
                },
            )
        return str(svc["id"])

    def register_compute(self, url: str, name: str = "nova") -> str:
        """Register the ``compute`` service at ``url`` (e.g.
        ``http://127.0.0.1:8774/v2.1``; Nova's own catalog entry carries no
        project id). Return the service id."""
        return self.register_service("compute", url, name=name)

    def service_user(self) -> dict[str, str]:
        """The compute API's own account (created on first use): user
        ``keypairs`` with the ``service`` role in project ``service``."""
        if self._service_user is None:
            found = self._find("projects", SERVICE_PROJECT, domain_id=DEFAULT_DOMAIN)
            project = found["id"] if found else self.create_project(SERVICE_PROJECT)
            self._service_user = self.create_account(
                project, ["service"], name=SERVICE_USER, password=SERVICE_PASSWORD
            )
            self._service_user["project_name"] = SERVICE_PROJECT
        return self._service_user

    def keystone_authtoken_options(self) -> dict[str, str]:
        """The compute API's ``[keystone_authtoken]`` section (creates the
        service user on first call)."""
        svc = self.service_user()
        return {
            "www_authenticate_uri": self.v3_url,
            "auth_url": self.v3_url,
            "auth_type": "password",
            "username": svc["username"],
            "password": svc["password"],
            "user_domain_name": "Default",
            "project_name": svc["project_name"],
            "project_domain_name": "Default",
            "region_name": self.region,
            "interface": "public",
            "service_token_roles": "service",
            "service_token_roles_required": "true",
            "service_type": "compute",
        }

    def token_catalog(self, session: Any) -> list[dict[str, Any]]:
        """The service catalog of ``session``'s token."""
        return list(session.auth.get_access(session).service_catalog.catalog)


def main(argv: list[str] | None = None) -> int:
    """Run a throw-away Keystone by hand: python -m tests.e2e.keystone_server"""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--compute-url")
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="keystone-e2e-")
    ks = KeystoneServer(workdir, args.port or free_port())
    ks.start()
    if args.compute_url:
        ks.register_compute(args.compute_url)
    print(f"keystone at {ks.v3_url} (admin/{ks.admin_password}), state {workdir}")
    print(f"timings: { {k: round(v, 2) for k, v in ks.timings.items()} }")
    print(f"[keystone_authtoken] {ks.keystone_authtoken_options()}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        ks.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
