"""Lint, format and type checks run with the suite, as CI runs it."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parents[1]
BIN = pathlib.Path(sys.executable).parent
PATHS = ["keypairs_ext", "tests", "bench"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint():
    result = run(str(BIN / "ruff"), "check", *PATHS)
    assert result.returncode == 0, result.stdout


def test_ruff_format():
    result = run(str(BIN / "ruff"), "format", "--check", *PATHS)
    assert result.returncode == 0, result.stdout


def test_mypy():
    result = run(str(BIN / "mypy"), "keypairs_ext", "bench")
    assert result.returncode == 0, result.stdout
