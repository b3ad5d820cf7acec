"""A killed test run leaves its Galera nodes running; the next cluster stops them.

The nodes here are Python processes whose command line names a file in
their cluster's directory, as each ``mariadbd --defaults-file=...`` does,
started as orphans (``setsid --fork``), as a killed run leaves its nodes;
no Galera is needed.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.e2e.galera_cluster import (
    OWNER_FILE,
    ROOT_PREFIX,
    has_died,
    reap_orphans,
    write_owner,
)

SLEEP = "import time; time.sleep(300)"


@pytest.fixture
def processes() -> Iterator[list[psutil.Process]]:
    started: list[psutil.Process] = []
    yield started
    for process in started:
        with contextlib.suppress(psutil.Error):
            process.kill()


def cluster(parent: pathlib.Path, owner: psutil.Process | None) -> pathlib.Path:
    root = pathlib.Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=parent))
    (root / "node1").mkdir()
    if owner is not None:
        write_owner(root, owner)
    return root


def node(root: pathlib.Path, started: list[psutil.Process]) -> psutil.Process:
    """A process of no parent of ours whose command line names ``root``."""
    options = f"--defaults-file={root}/node1/my.cnf"
    subprocess.run(["setsid", "--fork", sys.executable, "-c", SLEEP, options], check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["cmdline"]):
            if options in (process.info["cmdline"] or ()):
                started.append(process)
                return process
        time.sleep(0.01)
    raise AssertionError(f"the node of {root} never started")


def gone_owner() -> psutil.Process:
    """A process that has exited since (psutil remembers its identity)."""
    process = subprocess.Popen([sys.executable, "-c", SLEEP])
    owner = psutil.Process(process.pid)
    owner.create_time()  # read now, while it runs
    process.kill()
    process.wait()
    return owner


def test_a_cluster_whose_owner_is_gone_is_stopped_and_removed(tmp_path, processes):
    orphan = cluster(tmp_path, gone_owner())
    nodes = [node(orphan, processes), node(orphan, processes)]

    assert reap_orphans(str(tmp_path)) == [orphan]

    assert [has_died(n) for n in nodes] == [True, True]
    assert not orphan.exists()


def test_a_live_owners_cluster_and_a_cluster_being_set_up_are_left_alone(tmp_path, processes):
    live = cluster(tmp_path, psutil.Process())
    unowned = cluster(tmp_path, None)  # mkdtemp done, owner not written yet
    nodes = [node(live, processes), node(unowned, processes)]

    assert reap_orphans(str(tmp_path)) == []

    assert [n.is_running() for n in nodes] == [True, True]
    assert live.exists() and unowned.exists()


def test_a_reused_pid_is_not_the_owner(tmp_path, processes):
    """The owner's pid now belongs to another process: its start time differs."""
    orphan = cluster(tmp_path, psutil.Process())
    pid, _ = (orphan / OWNER_FILE).read_text().split()
    (orphan / OWNER_FILE).write_text(f"{pid} 1.0")
    survivor = node(orphan, processes)

    assert reap_orphans(str(tmp_path)) == [orphan]

    assert has_died(survivor)
    assert os.getpid() == int(pid)  # this process, still running, owned it no more


def test_only_the_processes_of_the_orphaned_cluster_are_stopped(tmp_path, processes):
    orphan = cluster(tmp_path, gone_owner())
    # Same prefix, longer name: a path that merely starts like the orphan's.
    neighbour = pathlib.Path(f"{orphan}x")
    neighbour.mkdir()
    (neighbour / "node1").mkdir()
    write_owner(neighbour, psutil.Process())
    stranger = node(neighbour, processes)
    orphaned = node(orphan, processes)

    assert reap_orphans(str(tmp_path)) == [orphan]

    assert has_died(orphaned)
    assert not has_died(stranger)
