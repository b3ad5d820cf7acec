"""The loader fails fast, naming the extension, and keeps a fixed hook order."""

from __future__ import annotations

import textwrap
import uuid

import pytest
from stevedore import ExtensionManager

from keypairs_ext.host import app, loader
from keypairs_ext.host.contract import EXTENSION_GROUP

GOOD = """
from keypairs_ext.host.contract import Extension

class Alpha(Extension):
    name = "Alpha"
    alias = "x-alpha"
    namespace = "http://example.com/alpha"
    updated = "2024-01-01T00:00:00+00:00"
    description = "First"
    server_properties = ("alpha_prop",)

class Beta(Extension):
    name = "Beta"
    alias = "x-beta"
    namespace = "http://example.com/beta"
    updated = "2024-01-01T00:00:00+00:00"
    description = "Second"

class NoNamespace(Extension):
    name = "NoNamespace"
    alias = "x-nonamespace"
    updated = "2024-01-01T00:00:00+00:00"
    description = "Lacks a namespace"

class AlphaAgain(Alpha):
    name = "AlphaAgain"

class Exploding(Extension):
    name = "Exploding"
    alias = "x-exploding"
    namespace = "http://example.com/exploding"
    updated = "2024-01-01T00:00:00+00:00"
    description = "Fails in its constructor"

    def __init__(self, services):
        raise RuntimeError("no database for me")

class NotAnExtension:
    alias = "x-stranger"
"""


def install(tmp_path, monkeypatch, entry_points: dict[str, str], group: str = EXTENSION_GROUP):
    """A real distribution on sys.path whose entry points name our fakes."""
    (tmp_path / "fake_exts.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "fake_broken.py").write_text("import module_that_does_not_exist\n")
    # A distinct distribution name each time: importlib.metadata keeps only
    # the first distribution of a name it meets.
    dist_name = f"fake_exts_{uuid.uuid4().hex}"
    dist = tmp_path / f"{dist_name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
    lines = [f"[{group}]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # stevedore remembers each group's entry points for the process.
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})


GROUP = "keypairs_ext.tests.extensions"


def test_selects_by_alias_in_configured_order(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"a": "fake_exts:Alpha", "b": "fake_exts:Beta"}, GROUP)
    installed = loader.find_installed(GROUP)
    selected = loader.select(installed, ["x-beta", "x-alpha"])
    assert [cls.alias for cls in selected] == ["x-beta", "x-alpha"]
    assert [cls.alias for cls in loader.select(installed, ["x-alpha", "x-beta"])] == [
        "x-alpha",
        "x-beta",
    ]


def test_missing_alias_names_it_and_the_broken_entry_points(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"a": "fake_exts:Alpha", "broken": "fake_broken:Thing"}, GROUP)
    installed = loader.find_installed(GROUP)
    with pytest.raises(loader.ExtensionLoadError) as caught:
        loader.select(installed, ["x-missing"])
    message = str(caught.value)
    assert "'x-missing'" in message
    assert "installed: x-alpha" in message
    assert "broken = fake_broken:Thing" in message
    assert "module_that_does_not_exist" in message


def test_broken_but_disabled_extension_does_not_stop_the_host(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"a": "fake_exts:Alpha", "broken": "fake_broken:Thing"}, GROUP)
    selected = loader.select(loader.find_installed(GROUP), ["x-alpha"])
    assert [cls.alias for cls in selected] == ["x-alpha"]


def test_missing_identity_attribute_is_named(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"n": "fake_exts:NoNamespace"}, GROUP)
    with pytest.raises(
        loader.ExtensionLoadError,
        match="fake_exts.NoNamespace lacks the required attribute 'namespace'",
    ):
        loader.select(loader.find_installed(GROUP), ["x-nonamespace"])


def test_class_outside_the_contract_is_refused(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"s": "fake_exts:NotAnExtension"}, GROUP)
    with pytest.raises(loader.ExtensionLoadError, match="does not derive from"):
        loader.select(loader.find_installed(GROUP), ["x-stranger"])


def test_duplicate_alias_names_both_entry_points(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"a": "fake_exts:Alpha", "a2": "fake_exts:AlphaAgain"}, GROUP)
    with pytest.raises(
        loader.ExtensionLoadError, match="'x-alpha' is claimed by two entry points .*'a' and 'a2'"
    ):
        loader.find_installed(GROUP)


def test_alias_listed_twice_is_refused(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"a": "fake_exts:Alpha"}, GROUP)
    with pytest.raises(loader.ExtensionLoadError, match="'x-alpha' is listed twice"):
        loader.select(loader.find_installed(GROUP), ["x-alpha", "x-alpha"])


def test_disabled_extension_properties_are_known(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"a": "fake_exts:Alpha", "b": "fake_exts:Beta"}, GROUP)
    owners = loader.disabled_server_properties(loader.find_installed(GROUP), ["x-beta"])
    assert owners == {"alpha_prop": "x-alpha"}


def _conf(tmp_path, enabled):
    conf = app.make_conf([])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("enabled_extensions", enabled, group="api")
    return conf


def test_host_refuses_to_build_with_an_unknown_extension(tmp_path):
    with pytest.raises(loader.ExtensionLoadError, match="'os-nothing' is enabled"):
        app.build(_conf(tmp_path, ["os-keypairs", "os-nothing"]))


def test_host_refuses_an_extension_failing_in_its_constructor(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"boom": "fake_exts:Exploding"})
    with pytest.raises(loader.ExtensionLoadError) as caught:
        app.build(_conf(tmp_path, ["x-exploding"]))
    assert "'x-exploding' (fake_exts.Exploding) failed to start" in str(caught.value)
    assert "RuntimeError: no database for me" in str(caught.value)


def test_host_loads_each_enabled_extension_once_in_order(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, {"a": "fake_exts:Alpha", "b": "fake_exts:Beta"})
    host = app.build(_conf(tmp_path, ["x-beta", "os-keypairs", "x-alpha"]))
    assert [e.alias for e in host.extensions] == ["x-beta", "os-keypairs", "x-alpha"]


def test_the_keypairs_entry_point_is_registered():
    installed = loader.find_installed()
    cls = installed.classes["os-keypairs"]
    assert f"{cls.__module__}:{cls.__qualname__}" == "keypairs_ext.extension:Keypairs"
