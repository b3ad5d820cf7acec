"""One door between extension and host: the imports on either side of it.

The extension (``keypairs_ext`` outside ``host/``) may import from the host
only ``keypairs_ext.host.contract``; the host imports nothing of the
extension and knows it only through the loader's entry points.  Every
import statement counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
import configparser
import pathlib

import pytest

ROOT = pathlib.Path(__file__).parents[1]
PACKAGE = ROOT / "keypairs_ext"
HOST = PACKAGE / "host"
CONTRACT = "keypairs_ext.host.contract"


def imported_modules(source: str) -> list[str]:
    """Every module ``source`` imports, as dotted names (``from a import b``
    yields ``a.b``, which may name a module or an attribute of ``a``)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError("relative imports hide which side they reach")
    return names


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def extension_violations(source: str) -> list[str]:
    """Imports of the host by extension code, other than the contract."""
    return [
        name
        for name in imported_modules(source)
        if (_inside(name, "keypairs_ext.host") and not _inside(name, CONTRACT))
        # ``from keypairs_ext import host`` reaches every host module
        or name == "keypairs_ext.host"
    ]


def host_violations(source: str) -> list[str]:
    """Imports of the extension by host code."""
    return [
        name
        for name in imported_modules(source)
        if _inside(name, "keypairs_ext") and not _inside(name, "keypairs_ext.host")
    ]


def _sources(directory: pathlib.Path) -> list[pathlib.Path]:
    return sorted(directory.rglob("*.py"))


def test_the_checks_see_a_wrong_import_in_either_direction() -> None:
    assert extension_violations("from keypairs_ext.host import database") == [
        "keypairs_ext.host.database"
    ]
    assert extension_violations("def f():\n    import keypairs_ext.host.app\n") == [
        "keypairs_ext.host.app"
    ]
    assert extension_violations("from keypairs_ext import host") == ["keypairs_ext.host"]
    assert extension_violations("from keypairs_ext.host.contract import Version") == []
    assert extension_violations("from keypairs_ext.host import contract") == []
    assert host_violations("def f():\n    from keypairs_ext import policies\n") == [
        "keypairs_ext.policies"
    ]
    assert host_violations("import keypairs_ext.db.api") == ["keypairs_ext.db.api"]
    assert host_violations("from keypairs_ext.host import loader") == []


@pytest.mark.parametrize(
    "path",
    [p for p in _sources(PACKAGE) if HOST not in p.parents],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_extension_imports_only_the_contract_from_the_host(path: pathlib.Path) -> None:
    assert extension_violations(path.read_text()) == []


@pytest.mark.parametrize("path", _sources(HOST), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_host_imports_nothing_of_the_extension(path: pathlib.Path) -> None:
    assert host_violations(path.read_text()) == []


def test_the_contract_imports_nothing_else_of_the_package() -> None:
    names = imported_modules((HOST / "contract.py").read_text())
    assert [name for name in names if _inside(name, "keypairs_ext")] == []


def test_entry_points_of_each_side_name_only_that_side() -> None:
    """The host's entry points (scripts, its options, its policy and the
    enforcer) lead into ``keypairs_ext.host``; the extension's into the
    extension; the extension is found through its own group only."""
    points = configparser.ConfigParser(delimiters=("=",))
    points.optionxform = str  # type: ignore[assignment,method-assign]
    points.read(ROOT / "entry_points.txt")
    for group in points.sections():
        for name, target in points.items(group):
            module = target.split(":")[0].strip()
            host_side = group in ("console_scripts", "oslo.policy.enforcer") or name.endswith(
                ".host"
            )
            assert _inside(module, "keypairs_ext.host") == host_side, (group, name, target)
