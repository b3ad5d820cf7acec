"""The wheel carries what an installed service needs, not only the sources."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).parents[1]


def test_wheel_contents(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("keypairs_ext-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "keypairs_ext/py.typed",
        "keypairs_ext/db/migrations/versions/0001_key_pairs.py",
        "keypairs_ext/db/migrations/versions/0002_extended_facts.py",
        "keypairs_ext/host/db/migrations/versions/0001_instances.py",
    ):
        assert required in names, required
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "keypairs-api = keypairs_ext.host.cmd.api:main" in text
    assert "keypairs = keypairs_ext.extension:Keypairs" in text
