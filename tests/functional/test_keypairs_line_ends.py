"""A public key saved on Windows ends in one CRLF (Notepad, PuTTYgen): that is
one line end, at every microversion and in the extended contract, as in
OpenStack Compute.  Any other CR, or anything after the CRLF, stays refused.

The key comes from ssh-keygen, and what the API returns is fingerprinted by
ssh-keygen again: the stored key must be the key that was sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keypairs_ext.api import extended
from tests.conftest import Client, need_program
from tests.conftest import run_program as run
from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI, expect_fault

shared_host = helpers.shared_host
api = helpers.api

COMPATIBLE_VERSIONS = ("2.1", "2.2", "2.92")
SINGLE_LINE = "Keypair data is invalid: the public key must be a single line"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ssh-keygen public key file, as Linux saves it (one final LF)."""
    need_program("ssh-keygen", "openssh-client")
    path = tmp_path_factory.mktemp("windows") / "id_ed25519"
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@windows", "-f", path)
    return path.with_suffix(".pub")


def keygen_fingerprints(text: str, directory: Path) -> tuple[str, str]:
    """(MD5 without its prefix, SHA256) of ``text`` written to a file byte for byte."""
    path = directory / "returned.pub"
    path.write_bytes(text.encode("ascii"))
    md5 = run("ssh-keygen", "-l", "-E", "md5", "-f", path).split()[1]
    sha256 = run("ssh-keygen", "-l", "-E", "sha256", "-f", path).split()[1]
    return md5.removeprefix("MD5:"), sha256


def windows(original: Path) -> str:
    return original.read_text().replace("\n", "\r\n")


@pytest.mark.parametrize("version", COMPATIBLE_VERSIONS)
def test_compatible_import_keeps_the_crlf_and_the_key(
    api: KeypairsAPI, original: Path, tmp_path: Path, version: str
) -> None:
    api = api.at(version)
    sent = windows(original)
    assert sent.endswith(" alice@windows\r\n") and sent.count("\r") == 1
    created = api.create("kp", sent)
    assert created["public_key"] == sent
    assert api.show("kp")["public_key"] == sent
    assert [entry["keypair"]["public_key"] for entry in api.list()["keypairs"]] == [sent]
    md5, sha256 = keygen_fingerprints(original.read_text(), tmp_path)
    assert created["fingerprint"] == md5
    # The returned text, CRLF and all, is the same key to ssh-keygen.
    assert keygen_fingerprints(api.show("kp")["public_key"], tmp_path) == (md5, sha256)


@pytest.mark.parametrize("version", ["2.1", "2.92"])
def test_extended_import_stores_the_canonical_line(
    shared_host, original: Path, tmp_path: Path, version: str
) -> None:
    header = f"compute {version}, keypairs {extended.MIN_VERSION}"
    client = Client(shared_host.api, token=f"{helpers.unique('user')}:project1")
    body = {"keypair": {"name": "kp", "public_key": windows(original)}}
    response = client.request(
        "POST", "/v2.1/os-keypairs", body, headers={"OpenStack-API-Version": header}
    )
    assert response.status_int == (201 if version == "2.92" else 200), response.body
    created = response.json["keypair"]
    # The extended import stores one canonical line, the same for LF and CRLF.
    assert created["public_key"] == original.read_text().rstrip("\n")
    assert created["comment"] == "alice@windows"
    md5, sha256 = keygen_fingerprints(original.read_text(), tmp_path)
    assert (created["fingerprint"], created["fingerprint_sha256"]) == (md5, sha256)


REFUSED = {
    "two-crlf": lambda line: line + "\r\n\r\n",
    "crlf-then-key": lambda line: line + "\r\n" + line + "\r\n",
    "crlf-then-blank": lambda line: line + "\r\n ",
    "cr-only": lambda line: line + "\r",
    "cr-before-crlf": lambda line: line + "\r\r\n",
    "cr-in-comment": lambda line: line.replace("alice@", "alice\r@") + "\r\n",
}
# The extended import has always ignored blank lines around a key, which the
# canonical line it stores cannot carry; a CR inside the text it refuses.
EXTENDED_REFUSED = ("crlf-then-key", "cr-only", "cr-before-crlf", "cr-in-comment")


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("version", COMPATIBLE_VERSIONS)
def test_compatible_import_refuses_any_other_cr(
    api: KeypairsAPI, original: Path, version: str, case: str
) -> None:
    api = api.at(version)
    text = REFUSED[case](original.read_text().rstrip("\n"))
    expect_fault(api.post({"name": "kp", "public_key": text}), 400, SINGLE_LINE)
    api.refused("GET", "kp", status=404)


@pytest.mark.parametrize("case", EXTENDED_REFUSED)
def test_extended_import_refuses_any_other_cr(shared_host, original: Path, case: str) -> None:
    header = {"OpenStack-API-Version": f"compute 2.92, keypairs {extended.MIN_VERSION}"}
    client = Client(shared_host.api, token=f"{helpers.unique('user')}:project1")
    text = REFUSED[case](original.read_text().rstrip("\n"))
    body = {"keypair": {"name": "kp", "public_key": text}}
    expect_fault(
        client.request("POST", "/v2.1/os-keypairs", body, headers=header), 400, SINGLE_LINE
    )
    assert client.request("GET", "/v2.1/os-keypairs/kp", headers=header).status_int == 404
