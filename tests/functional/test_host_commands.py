"""The console scripts as an operator runs them: real processes, real sockets."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from keypairs_ext.extension import Keypairs
from keypairs_ext.host.db import migrate
from tests.support import command, free_port, migration_head, write_config


def wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def get(port: int, path: str, headers=None):
    # the first request builds the host (gunicorn loads it lazily): slow on a busy machine
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read()


def test_db_sync_from_empty_and_again(tmp_path, empty_database):
    config = write_config(tmp_path / "keypairs.conf", {"database": {"connection": empty_database}})
    for _ in range(2):
        result = subprocess.run(
            [command("keypairs-manage"), "--config-file", config, "db", "sync"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Migrated to head: host, os-keypairs"
    version = subprocess.run(
        [command("keypairs-manage"), "--config-file", config, "db", "version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.splitlines() == [
        f"host: {migration_head(migrate.HOST_MIGRATIONS)}",
        f"os-keypairs: {migration_head(Keypairs.migrations())}",
    ]
    tables = set(sa.inspect(sa.create_engine(empty_database)).get_table_names())
    assert {
        "instances",
        "key_pairs",
        "key_pair_usages",
        "alembic_version_host",
        "alembic_version_os_keypairs",
    } <= tables


def test_db_sync_refuses_an_unknown_extension(tmp_path):
    config = write_config(
        tmp_path / "keypairs.conf",
        {
            "DEFAULT": {"state_path": tmp_path},
            "api": {"enabled_extensions": "os-keypairs,os-unknown"},
        },
    )
    result = subprocess.run(
        [command("keypairs-manage"), "--config-file", config, "db", "sync"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "'os-unknown' is enabled" in result.stderr


def test_api_serves_on_its_defaults(tmp_path):
    """No arguments: 127.0.0.1:8774 and 8775, SQLite under the state path."""
    for port in (8774, 8775):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is taken; the default-port test needs it free")
    env = dict(os.environ, HOME=str(tmp_path))
    process = subprocess.Popen(
        [command("keypairs-api")], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(8774, process)
        status, body = get(8774, "/v2.1/os-keypairs", {"X-Auth-Token": "u:p"})
        assert status == 200 and json.loads(body) == {"keypairs": []}
        status, _ = get(8775, "/openstack/latest/meta_data.json")
        assert status == 400
        assert (tmp_path / ".local/state/keypairs-api/keypairs.sqlite").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0


def test_api_with_config_file_and_workers(tmp_path):
    port = free_port()
    config = write_config(
        tmp_path / "keypairs.conf",
        {
            "DEFAULT": {"state_path": tmp_path},
            "api": {"bind_port": port, "workers": 2, "threads": 4},
            "metadata": {"enabled": "false"},
        },
    )
    process = subprocess.Popen(
        [command("keypairs-api"), "--config-file", config], stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(port, process)
        statuses = {get(port, "/v2.1/", {})[0] for _ in range(20)}
        assert statuses == {200}
        # The arbiter forks its workers one after the other: the first may
        # answer before the second exists.
        deadline = time.monotonic() + 30
        while True:
            pgrep = ["pgrep", "-P", str(process.pid)]
            children = subprocess.run(pgrep, capture_output=True, text=True).stdout.split()
            if len(children) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(children) == 2, children
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_noauth2_refuses_a_public_address(tmp_path):
    config = write_config(
        tmp_path / "keypairs.conf",
        {"DEFAULT": {"state_path": tmp_path}, "api": {"bind_host": "0.0.0.0"}},
    )
    result = subprocess.run(
        [command("keypairs-api"), "--config-file", config],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (
        "auth_strategy noauth2 trusts every token; refusing to listen on 0.0.0.0" in result.stderr
    )


def test_wsgi_application_is_importable_for_gunicorn(tmp_path):
    port = free_port()
    config = write_config(tmp_path / "keypairs.conf", {"DEFAULT": {"state_path": tmp_path}})
    subprocess.run(
        [command("keypairs-manage"), "--config-file", config, "db", "sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    env = dict(os.environ, KEYPAIRS_CONFIG_FILE=config)
    process = subprocess.Popen(
        [
            command("gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "keypairs_ext.host.wsgi:application",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(port, process)
        status, body = get(port, "/v2.1/os-keypairs", {"X-Auth-Token": "u:p"})
        assert status == 200 and json.loads(body) == {"keypairs": []}
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_command(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def test_manage_help_names_itself():
    result = run_command(command("keypairs-manage"), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: keypairs-manage ")
    assert "'db sync' creates or upgrades the database schema" in " ".join(result.stdout.split())
    assert "keypairs-api" not in result.stdout


def test_manage_without_a_command_says_what_is_missing():
    result = run_command(command("keypairs-manage"))
    assert result.returncode == 2
    assert result.stderr.startswith("usage: keypairs-manage ")
    assert result.stderr.splitlines()[-1] == (
        "keypairs-manage: error: the following arguments are required: command"
    )
    assert "keypairs-api" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [("keypairs-manage", "db", "sync"), ("keypairs-api",)],
    ids=["manage", "api"],
)
def test_a_missing_config_file_is_one_line(tmp_path, args):
    missing = tmp_path / "nowhere.conf"
    result = run_command(command(args[0]), "--config-file", str(missing), *args[1:])
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{args[0]}: configuration file not found: {missing} (check the --config-file path)"
    ]


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path / "keypairs.conf",
            {"DEFAULT": {"state_path": tmp_path}, "api": {"bind_port": port}},
        )
        result = run_command(command("keypairs-api"), "--config-file", config)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"keypairs-api: 127.0.0.1:{port} is already in use (stop what listens there "
        "or change [api] bind_host/bind_port)"
    ]


# Run the real command in a Python where the driver cannot be imported, as
# after a plain ``pip install .`` (None in sys.modules refuses the import).
WITHOUT_DRIVERS = (
    "import sys\n"
    "for name in ('psycopg', 'psycopg2', 'pymysql', 'MySQLdb'): sys.modules[name] = None\n"
    "sys.argv[0] = {prog!r}\n"
    "from keypairs_ext.host.cmd.{module} import main\n"
    "main()\n"
)


@pytest.mark.parametrize(
    "url, line",
    [
        (
            "postgresql+psycopg://postgres@127.0.0.1:5432/x",
            "the postgresql database driver 'psycopg' is not installed: "
            "pip install 'keypairs-ext[postgresql]'",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/x",
            "the postgresql database driver 'psycopg' is not installed: "
            "pip install 'keypairs-ext[postgresql]'",
        ),
        (
            "mysql+pymysql://root@127.0.0.1:3306/x",
            "the mysql database driver 'pymysql' is not installed: "
            "pip install 'keypairs-ext[mysql]'",
        ),
        (
            "mysql://root@127.0.0.1:3306/x",
            "the mysql database driver 'MySQLdb' is not installed: "
            "pip install 'keypairs-ext[mysql]' and write the URL as mysql+pymysql://...",
        ),
    ],
)
@pytest.mark.parametrize("prog, module", [("keypairs-manage", "manage"), ("keypairs-api", "api")])
def test_a_missing_database_driver_names_the_extra(tmp_path, url, line, prog, module):
    config = write_config(
        tmp_path / "keypairs.conf",
        {
            "DEFAULT": {"state_path": tmp_path},
            "api": {"bind_port": free_port()},
            "metadata": {"enabled": "false"},
            "database": {"connection": url},
        },
    )
    args = ["--config-file", config] + (["db", "sync"] if module == "manage" else [])
    result = run_command(
        sys.executable, "-c", WITHOUT_DRIVERS.format(prog=prog, module=module), *args
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"{prog}: {line}"]


def test_api_help_describes_the_service_and_its_defaults():
    result = run_command(command("keypairs-api"), "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert text.startswith("usage: keypairs-api ")
    assert "Serve the OpenStack Compute-compatible API with the os-keypairs extension" in text
    assert "the compute API on 127.0.0.1:8774 ([api] bind_host, bind_port)" in text
    assert "the metadata service on 127.0.0.1:8775 ([metadata] bind_host, bind_port)" in text
    assert "SQLite under ~/.local/state/keypairs-api ([DEFAULT] state_path;" in text
    assert "--version" in text


@pytest.mark.parametrize("name", ["keypairs-api", "keypairs-manage"])
def test_version(name):
    from importlib import metadata

    result = run_command(command(name), "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == metadata.version("keypairs-ext")
