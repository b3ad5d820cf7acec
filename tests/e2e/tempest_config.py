"""Tempest's keypair tests against the compute API, through a real Keystone.

Tempest runs from its own virtualenv (``${E2E_TOOLS:-/opt/keypairs-e2e}/tempest``,
built by ``.ci/e2e-tools.sh``) in a throw-away workspace (``tempest init``),
with dynamic credentials: it logs in to Keystone as admin, creates a project
and user per credential type (primary: ``member``, project_reader:
``reader``, admin: ``admin``), finds the ``compute`` endpoint in the catalog
and calls it. Nothing here imports tempest: results come back as JSON from a
small parser run in the tempest venv over the subunit stream.

    ws = TempestWorkspace(tmp_path / "tempest")
    ws.init()
    ws.write_tempest_conf(tempest_options(keystone))  # a KeystoneServer
    result = ws.run()                            # KEYPAIR_TESTS by default
    assert result.ok, result.summary()
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.keystone_server import REGION, tools_dir

# Every keypair test module of tempest 47.0.0 (tempest/api/compute/keypairs/
# test_keypairs.py, test_keypairs_negative.py, test_keypairs_v22.py and
# tempest/api/compute/admin/test_keypairs_v210.py); 19 tests.
KEYPAIR_TESTS = r"^tempest\.api\.compute\.(admin\.test_keypairs_v210|keypairs)\."

KEYPAIR_MODULES = (
    "tempest.api.compute.keypairs.test_keypairs",  # KeyPairsV2TestJSON, <= 2.1
    "tempest.api.compute.keypairs.test_keypairs_negative",  # cfg min version
    "tempest.api.compute.keypairs.test_keypairs_v22",  # KeyPairsV22TestJSON, 2.2
    "tempest.api.compute.admin.test_keypairs_v210",  # KeyPairsV210TestJSON, 2.10
)

# [compute-feature-enabled]: everything that would boot, migrate, snapshot or
# reach into a guest is off (the keypair tests need none of it; this keeps a
# wider --regex from trying).
COMPUTE_FEATURES_OFF = (
    "disk_config",
    "change_password",
    "console_output",
    "resize",
    "pause",
    "shelve",
    "shelve_migrate",
    "suspend",
    "cold_migration",
    "live_migration",
    "live_migrate_back_and_forth",
    "metadata_service",
    "block_migration_for_live_migration",
    "can_migrate_between_any_hosts",
    "vnc_console",
    "spice_console",
    "serial_console",
    "rescue",
    "stable_rescue",
    "enable_instance_password",
    "interface_attach",
    "snapshot",
    "personality",
    "attach_encrypted_volume",
    "config_drive",
    "swap_volume",
    "volume_backed_live_migration",
    "volume_multiattach",
    "ide_bus",
)


def tempest_venv() -> Path:
    return tools_dir() / "tempest"


def tempest_available() -> bool:
    bin_dir = tempest_venv() / "bin"
    return all(os.access(bin_dir / exe, os.X_OK) for exe in ("tempest", "stestr"))


def tempest_options(
    keystone: Any,
    *,
    min_microversion: str | None = "2.1",
    max_microversion: str | None = "latest",
    ssh_key_type: str = "ecdsa",
    region: str | None = None,
) -> dict[str, dict[str, str]]:
    """tempest.conf sections for ``keystone`` (a KeystoneServer, or anything
    with ``v3_url``, ``admin_user``, ``admin_password``, ``admin_project`` and
    ``region``) and the compute endpoint registered in its catalog.

    ``min_microversion``/``max_microversion`` bound the classes tempest runs
    (KeyPairsV2TestJSON needs min <= 2.1, V22 needs max >= 2.2, V210 needs
    max >= 2.10) and ``min_microversion`` is also what the classes without
    their own minimum (the negative tests) send. None leaves it unset: then
    tempest sends no microversion header at all to those classes.

    ``ssh_key_type`` ("ecdsa", tempest's default, or "rsa"): with ecdsa,
    tempest generates an ECDSA P-384 key itself and *imports* its public key
    whenever a test asks for a generated ssh key pair; with rsa, the API
    generates it.
    """
    region = region or getattr(keystone, "region", REGION)
    compute: dict[str, str] = {
        "catalog_type": "compute",
        "endpoint_type": "publicURL",
        "region": region,
        # Never used by the keypair tests; set so nothing looks one up.
        "image_ref": "00000000-0000-0000-0000-000000000001",
        "image_ref_alt": "00000000-0000-0000-0000-000000000002",
        "flavor_ref": "1",
        "flavor_ref_alt": "2",
    }
    if min_microversion:
        compute["min_microversion"] = min_microversion
    if max_microversion:
        compute["max_microversion"] = max_microversion
    return {
        "DEFAULT": {"debug": "false", "use_stderr": "false"},
        "auth": {
            "use_dynamic_credentials": "true",
            "create_isolated_networks": "false",
            "admin_username": keystone.admin_user,
            "admin_password": keystone.admin_password,
            "admin_project_name": keystone.admin_project,
            "admin_domain_name": "Default",
            "default_credentials_domain_name": "Default",
        },
        "identity": {
            "uri_v3": keystone.v3_url,
            "auth_version": "v3",
            "region": region,
            "v3_endpoint_type": "public",
            "admin_role": "admin",
            "default_domain_id": "default",
        },
        "identity-feature-enabled": {"api_v2": "false", "api_v3": "true"},
        "compute": compute,
        "compute-feature-enabled": {name: "false" for name in COMPUTE_FEATURES_OFF},
        "service_available": {
            "nova": "true",
            "cinder": "false",
            "neutron": "false",
            "glance": "false",
            "swift": "false",
            "horizon": "false",
        },
        "validation": {"run_validation": "false", "ssh_key_type": ssh_key_type},
        "enforce_scope": {"nova": "false"},
    }


@dataclass
class TempestResult:
    """What one ``tempest run`` did."""

    returncode: int
    tests: dict[str, str]  # test id -> success | fail | skip | xfail | uxsuccess
    details: dict[str, str]  # test id -> traceback (failures) or reason (skips)
    output: str  # console output of tempest run (tail)
    duration: float
    log_file: Path | None = None
    subunit_file: Path | None = None
    command: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(s in ("success", "xfail") for s in self.tests.values())

    @property
    def failed(self) -> int:
        return sum(s in ("fail", "uxsuccess") for s in self.tests.values())

    @property
    def skipped(self) -> int:
        return sum(s == "skip" for s in self.tests.values())

    @property
    def failures(self) -> list[str]:
        """Failed test ids (setUpClass failures show up as
        ``setUpClass (tempest.api...Class)``)."""
        return sorted(t for t, s in self.tests.items() if s in ("fail", "uxsuccess"))

    @property
    def skips(self) -> dict[str, str]:
        return {t: self.details.get(t, "") for t, s in sorted(self.tests.items()) if s == "skip"}

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0 and self.passed > 0

    def summary(self, tracebacks: bool = True, limit: int = 3000) -> str:
        lines = [
            f"tempest: {self.passed} passed, {self.failed} failed, "
            f"{self.skipped} skipped (exit {self.returncode}, {self.duration:.1f}s)"
        ]
        for test in self.failures:
            lines.append(f"FAILED {test}")
            if tracebacks and self.details.get(test):
                lines.append(_indent(self.details[test][-limit:]))
        for test, reason in self.skips.items():
            lines.append(f"SKIPPED {test}: {reason.strip()[:200]}")
        if not self.tests:
            lines.append("no test result; output tail:\n" + _indent(self.output[-limit:]))
        if self.log_file:
            lines.append(f"tempest log: {self.log_file}")
        return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def short_id(test_id: str) -> str:
    """``tempest...Class.test_x[id-...,negative]`` -> ``tempest...Class.test_x``."""
    return re.sub(r"\[.*\]$", "", test_id)


# Run in the tempest venv: subunit v2 stream (argv[1]) -> JSON on stdout.
_SUBUNIT_TO_JSON = r"""
import json, sys
import subunit, testtools

tests, details = {}, {}

def on_test(test):
    tid, status = test["id"], test["status"]
    if status in ("exists", "inprogress", None):
        return
    tests[tid] = status
    wanted = "reason" if status == "skip" else "traceback"
    for name, content in test["details"].items():
        if name == wanted or (status == "fail" and name.startswith("traceback")):
            try:
                details[tid] = details.get(tid, "") + content.as_text()
            except Exception as exc:  # undecodable detail
                details[tid] = repr(exc)

result = testtools.StreamToDict(on_test)
result.startTestRun()
with open(sys.argv[1], "rb") as stream:
    subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout").run(result)
result.stopTestRun()
json.dump({"tests": tests, "details": details}, sys.stdout)
"""


class TempestWorkspace:
    """A tempest workspace in ``root`` (its own workspace registry and HOME:
    nothing is written to ~/.tempest)."""

    def __init__(
        self,
        root: os.PathLike[str] | str,
        *,
        name: str = "keypairs-e2e",
        venv: os.PathLike[str] | str | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.name = name
        self.venv = Path(venv) if venv else tempest_venv()
        self.dir = self.root / name
        self.registry = self.root / "workspace.yaml"
        self.conf_path = self.dir / "etc" / "tempest.conf"

    def _bin(self, name: str) -> str:
        path = self.venv / "bin" / name
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} not found: run .ci/e2e-tools.sh (E2E_TOOLS={tools_dir()})")
        return str(path)

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OS_", "PYTHON", "VIRTUAL_ENV", "TEMPEST_"))
        }
        env.update(
            HOME=str(self.root),  # tempest init writes ~/.tempest otherwise
            TEMPEST_CONFIG_DIR=str(self.conf_path.parent),
            TEMPEST_CONFIG=self.conf_path.name,
            PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            PYTHONWARNINGS="ignore",
        )
        return env

    def _run(self, cmd: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(
            cmd,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    def init(self) -> TempestWorkspace:
        """``tempest init`` (idempotent)."""
        if (self.dir / ".stestr.conf").exists():
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        res = self._run(
            [
                self._bin("tempest"),
                "init",
                "--workspace-path",
                str(self.registry),
                "--name",
                self.name,
                str(self.dir),
            ],
            timeout=120,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        if res.returncode != 0 or not (self.dir / ".stestr.conf").exists():
            raise RuntimeError(f"tempest init failed ({res.returncode}):\n{res.stdout.decode()}")
        return self

    def write_tempest_conf(self, sections: Mapping[str, Mapping[str, str]]) -> Path:
        """Write etc/tempest.conf: ``sections`` over the init's defaults
        (log_dir, lock_path inside the workspace)."""
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_dict(
            {
                "DEFAULT": {
                    "log_dir": str(self.dir / "logs"),
                    "log_file": "tempest.log",
                },
                "oslo_concurrency": {"lock_path": str(self.dir / "tempest_lock")},
            }
        )
        parser.read_dict({s: {k: str(v) for k, v in opts.items()} for s, opts in sections.items()})
        self.conf_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.conf_path, "w") as fh:
            parser.write(fh)
        return self.conf_path

    def list_tests(self, regex: str = KEYPAIR_TESTS) -> list[str]:
        res = self._run(
            [self._bin("tempest"), "run", "--list-tests", "--regex", regex],
            timeout=300,
            cwd=self.dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out = res.stdout.decode(errors="replace")
        if res.returncode != 0:
            raise RuntimeError(f"tempest run --list-tests failed:\n{out[-3000:]}")
        return sorted(line for line in out.splitlines() if line.startswith("tempest."))

    def run(
        self,
        regex: str = KEYPAIR_TESTS,
        *,
        concurrency: int = 2,
        timeout: float = 900,
    ) -> TempestResult:
        """``tempest run --regex REGEX`` in the workspace; never raises for
        failing tests (look at the result), only when tempest cannot run."""
        log = self.dir / "tempest-run.log"
        cmd = [
            self._bin("tempest"),
            "run",
            "--regex",
            regex,
            "--concurrency",
            str(concurrency),
        ]
        started = time.monotonic()
        with open(log, "wb") as out:
            try:
                res = self._run(cmd, timeout=timeout, cwd=self.dir, stdout=out, stderr=out)
                returncode = res.returncode
            except subprocess.TimeoutExpired:
                returncode = -9
        duration = time.monotonic() - started
        output = log.read_text(errors="replace")
        tests, details, subunit_file = self._last_results()
        return TempestResult(
            returncode=returncode,
            tests=tests,
            details=details,
            output=output[-20000:],
            duration=duration,
            log_file=self.dir / "logs" / "tempest.log",
            subunit_file=subunit_file,
            command=cmd,
        )

    def _last_results(self) -> tuple[dict[str, str], dict[str, str], Path | None]:
        """Results of the last run, from the workspace's stestr repository."""
        subunit_file = self.dir / "last.subunit"
        with open(subunit_file, "wb") as out:
            res = self._run(
                [self._bin("stestr"), "last", "--subunit"],
                timeout=120,
                cwd=self.dir,
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
        if res.returncode != 0 or subunit_file.stat().st_size == 0:
            return {}, {}, None
        parsed = self._run(
            [self._bin("python"), "-c", _SUBUNIT_TO_JSON, str(subunit_file)],
            timeout=120,
            cwd=self.dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if parsed.returncode != 0:
            raise RuntimeError(f"cannot parse {subunit_file}:\n{parsed.stderr.decode()[-3000:]}")
        data = json.loads(parsed.stdout)
        return data["tests"], data["details"], subunit_file


def run_keypair_tests(
    keystone: Any,
    workdir: os.PathLike[str] | str,
    *,
    regex: str = KEYPAIR_TESTS,
    concurrency: int = 2,
    **options: Any,
) -> TempestResult:
    """init + tempest.conf for ``keystone`` + run: the one call a test needs.
    ``options`` go to tempest_options() (microversions, ssh_key_type)."""
    workspace = TempestWorkspace(workdir).init()
    workspace.write_tempest_conf(tempest_options(keystone, **options))
    return workspace.run(regex, concurrency=concurrency)
