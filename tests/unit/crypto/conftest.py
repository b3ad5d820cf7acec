from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_program
from tests.unit.crypto.support import KEYGEN_KEYS


@pytest.fixture(scope="session")
def keygen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One key of every ssh-keygen type, made once and in parallel: RSA 4096
    is slow."""
    need_program("ssh-keygen", "openssh-client")
    directory = tmp_path_factory.mktemp("keygen")
    processes = [
        subprocess.Popen(
            [
                "ssh-keygen",
                "-q",
                *args,
                "-N",
                "",
                "-C",
                f"{name} test key",
                "-f",
                str(directory / name),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        for name, (args, _, _) in KEYGEN_KEYS.items()
    ]
    assert [process.wait(timeout=60) for process in processes] == [0] * len(processes)
    return directory
