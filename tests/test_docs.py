"""The documentation builds without warnings and its generated parts are current."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parents[1]
BIN = pathlib.Path(sys.executable).parent


def test_sphinx_builds_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(ROOT / "doc" / "source"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def _generate(tool: str, config: str, tmp_path) -> str:
    out = tmp_path / "generated"
    subprocess.run(
        [str(BIN / tool), "--config-file", str(ROOT / "etc" / config), "--output-file", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    return out.read_text()


def test_sample_config_is_current(tmp_path):
    generated = _generate("oslo-config-generator", "keypairs-config-generator.conf", tmp_path)
    committed = (ROOT / "doc" / "source" / "_static" / "keypairs.conf.sample").read_text()
    assert generated == committed, (
        "run oslo-config-generator --config-file etc/keypairs-config-generator.conf"
    )


def test_sample_policy_is_current(tmp_path):
    generated = _generate("oslopolicy-sample-generator", "keypairs-policy-generator.conf", tmp_path)
    committed = (ROOT / "doc" / "source" / "_static" / "keypairs.policy.yaml.sample").read_text()
    assert generated == committed, (
        "run oslopolicy-sample-generator --config-file etc/keypairs-policy-generator.conf"
    )
