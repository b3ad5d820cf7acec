"""A private three-node MariaDB Galera cluster on 127.0.0.1, for end-to-end tests.

Each node has its own datadir, socket, SQL port, group-communication port,
IST port and SST port, all under one temporary directory owned by the
``mysql`` user (the server drops to that user, and so does the rsync state
transfer it runs). The first node bootstraps the cluster
(``--wsrep-new-cluster``); the others join it by a full state transfer
(rsync). The shared server on 3306 and its files are never touched: every
node reads only its own option file (``--defaults-file``).

The nodes outlive a test run that is killed (they drop to the ``mysql``
user, which clears a parent-death signal), so each cluster's directory
names the test process that owns it, and a new cluster first stops and
removes the clusters whose owner is gone (:func:`reap_orphans`).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence

import psutil

from tests.e2e.api_process import free_port

MARIADBD = "/usr/sbin/mariadbd"
PROVIDERS = ("/usr/lib/galera/libgalera_smm.so", "/usr/lib/libgalera_smm.so")
USER = "keypairs"
PASSWORD = "galera-test-secret"
ROOT_PREFIX = "keypairs-galera-"
# In each cluster's directory: "<pid> <start time>" of the owning process
# (the start time tells a reused pid apart).
OWNER_FILE = "owner"


def provider() -> str | None:
    """The Galera library (Debian's ``galera-4``), if installed."""
    return next((path for path in PROVIDERS if os.path.exists(path)), None)


def _process_identity(process: psutil.Process) -> str:
    return f"{process.pid} {process.create_time()!r}"


def _owner_alive(owner: str) -> bool:
    try:
        return _process_identity(psutil.Process(int(owner.partition(" ")[0]))) == owner.strip()
    except (ValueError, psutil.Error):
        return False


def write_owner(root: pathlib.Path, process: psutil.Process) -> None:
    """Name ``process`` as the owner of the cluster in ``root``, whole or not
    at all (a reaper never reads half a file)."""
    partial = root / (OWNER_FILE + ".partial")
    partial.write_text(_process_identity(process))
    os.replace(partial, root / OWNER_FILE)


def has_died(process: psutil.Process) -> bool:
    """Gone, or a zombie, which holds no port or file any more (its new
    parent, not us, reaps it)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def reap_orphans(parent: str | None = None) -> list[pathlib.Path]:
    """Stop every process of the clusters under ``parent`` (the temporary
    directory) whose owning test process has gone, and remove their
    directories; the directories removed.  Their processes have died when
    it returns (or ten seconds passed).  A directory without an owner file
    is left alone: it is being set up, or not a cluster's.
    """
    removed = []
    for root in sorted(pathlib.Path(parent or tempfile.gettempdir()).glob(ROOT_PREFIX + "*")):
        try:
            owner = (root / OWNER_FILE).read_text()
        except OSError:
            continue
        if _owner_alive(owner):
            continue
        inside = f"{root}{os.sep}"
        leftovers = []
        for process in psutil.process_iter(["cmdline"]):
            if any(inside in arg for arg in process.info["cmdline"] or ()):
                with contextlib.suppress(psutil.Error):
                    process.kill()
                    leftovers.append(process)
        deadline = time.monotonic() + 10
        while not all(map(has_died, leftovers)) and time.monotonic() < deadline:
            time.sleep(0.01)
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed


class Node:
    def __init__(self, cluster: GaleraCluster, index: int) -> None:
        self.cluster = cluster
        self.name = f"node{index}"
        self.dir = cluster.root / self.name
        self.datadir = self.dir / "data"
        self.socket = self.dir / "mysqld.sock"
        self.error_log = self.dir / "error.log"
        self.port = free_port()
        self.gcomm_port = free_port()
        self.ist_port = free_port()
        self.sst_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def gcomm_address(self) -> str:
        return f"127.0.0.1:{self.gcomm_port}"

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def write_options(self) -> pathlib.Path:
        c = self.cluster
        members = ",".join(node.gcomm_address for node in c.nodes)
        # Short failure detection: a killed node leaves the group in about two
        # seconds, so that the others' commits do not wait on it for long.
        provider_options = ";".join(
            (
                "base_host=127.0.0.1",
                f"base_port={self.gcomm_port}",
                f"gmcast.listen_addr=tcp://127.0.0.1:{self.gcomm_port}",
                f"ist.recv_addr=127.0.0.1:{self.ist_port}",
                "gcache.size=32M",
                "evs.keepalive_period=PT0.5S",
                "evs.inactive_check_period=PT0.5S",
                "evs.suspect_timeout=PT1.5S",
                "evs.inactive_timeout=PT3S",
                "evs.install_timeout=PT3S",
                "pc.recovery=false",
            )
        )
        options = {
            "datadir": self.datadir,
            "socket": self.socket,
            "pid-file": self.dir / "mysqld.pid",
            "log-error": self.error_log,
            "port": self.port,
            "bind-address": "127.0.0.1",
            "skip-name-resolve": "ON",
            "skip-log-bin": "ON",
            "performance_schema": "OFF",
            "max_connections": 300,
            # What Galera needs of the server.
            "binlog_format": "ROW",
            "default_storage_engine": "InnoDB",
            "innodb_autoinc_lock_mode": 2,
            # A small, quick server (the cluster makes commits durable).
            "innodb_buffer_pool_size": "64M",
            "innodb_log_file_size": "16M",
            "innodb_flush_log_at_trx_commit": 0,
            "wsrep_on": "ON",
            "wsrep_provider": c.provider,
            "wsrep_cluster_name": c.name,
            "wsrep_cluster_address": f"gcomm://{members}",
            "wsrep_node_name": self.name,
            "wsrep_node_address": self.gcomm_address,
            "wsrep_node_incoming_address": f"127.0.0.1:{self.port}",
            "wsrep_provider_options": f'"{provider_options}"',
            "wsrep_sst_method": "rsync",
            "wsrep_sst_receive_address": f"127.0.0.1:{self.sst_port}",
            "wsrep_slave_threads": 2,
        }
        path = self.dir / "my.cnf"
        path.write_text(
            "[mysqld]\n" + "".join(f"{key} = {value}\n" for key, value in options.items())
        )
        return path

    def start(self, new_cluster: bool = False) -> None:
        args = [MARIADBD, f"--defaults-file={self.dir / 'my.cnf'}", "--user=mysql"]
        if new_cluster:
            args.append("--wsrep-new-cluster")
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_synced(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            if self.status("wsrep_local_state_comment") == "Synced":
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not synced in time:\n{self.log_tail()}")

    def sql(self, statement: str, timeout: float = 10) -> str:
        """Run ``statement`` as root over the node's socket; its output (tab separated)."""
        result = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                f"--socket={self.socket}",
                "-uroot",
                "-N",
                "-B",
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name}: {statement!r}: {result.stderr.strip()}")
        return result.stdout.strip()

    def status(self, variable: str) -> str | None:
        try:
            out = self.sql(f"SHOW GLOBAL STATUS LIKE '{variable}'", timeout=5)
        except (RuntimeError, subprocess.TimeoutExpired):
            return None
        return out.split("\t")[1] if "\t" in out else None

    def kill(self) -> None:
        """SIGKILL: the node dies as on a power cut."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no error log)"


class GaleraCluster:
    """``size`` nodes, started by :meth:`start`, removed by :meth:`stop`."""

    def __init__(self, size: int = 3) -> None:
        found = provider()
        if found is None:
            raise RuntimeError("the Galera library is not installed (Debian package galera-4)")
        self.provider = found
        self.name = f"keypairs_test_{uuid.uuid4().hex[:8]}"
        reap_orphans()
        # Not under pytest's tmp_path: that is private to root, and the
        # server and its rsync run as mysql.
        self.root = pathlib.Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        write_owner(self.root, psutil.Process())
        self.nodes = [Node(self, index) for index in range(1, size + 1)]

    def start(self, timeout: float = 120) -> GaleraCluster:
        deadline = time.monotonic() + timeout
        mysql = pwd.getpwnam("mysql")
        for node in self.nodes:
            node.datadir.mkdir(parents=True)
            node.write_options()
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, mysql.pw_uid, mysql.pw_gid)
        first, *others = self.nodes
        installed = subprocess.run(
            [
                "mariadb-install-db",
                f"--defaults-file={first.dir / 'my.cnf'}",
                "--user=mysql",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ],
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 1),
            check=False,
        )
        if installed.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {installed.stderr[-2000:]}")
        first.start(new_cluster=True)
        first.wait_synced(deadline)
        first.sql(
            f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';"
            f" GRANT ALL ON *.* TO '{USER}'@'127.0.0.1'"
        )
        # One joiner at a time: each takes a full copy from a synced donor.
        for node in others:
            node.start()
            node.wait_synced(deadline)
        return self

    def wait_size(self, size: int, timeout: float = 60, nodes: Sequence[Node] = ()) -> None:
        """Until every node of ``nodes`` (default: the running ones) sees ``size`` members."""
        deadline = time.monotonic() + timeout
        watched = list(nodes) or [n for n in self.nodes if n.process and n.process.poll() is None]
        while time.monotonic() < deadline:
            if all(n.status("wsrep_cluster_size") == str(size) for n in watched):
                return
            time.sleep(0.2)
        raise RuntimeError(f"cluster size never reached {size}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)
