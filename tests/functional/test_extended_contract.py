"""The extended contract (keypairs 1.0): opt-in, views, generation, import, filters, validate."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tempfile

import pytest

from keypairs_ext.api import extended
from tests.conftest import Client, fault, need_program
from tests.functional import keypairs_helpers as helpers
from tests.unit.crypto.malformed_keys import build_corpus

shared_host = helpers.shared_host

EXTENDED = "compute 2.92, keypairs 1.0"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
EXTENDED_FIELDS = {"fingerprint_sha256", "algorithm", "bits", "comment", "created_at", "id"}


class Extended:
    """One user of this test's own, speaking the extended contract."""

    def __init__(self, host, header: str = EXTENDED) -> None:
        self.user = helpers.unique("user")
        self.client = Client(host.api, token=f"{self.user}:project1")
        self.header = header

    def call(self, method, path, body=None, header=None, **kw):
        headers = {"OpenStack-API-Version": header or self.header}
        return self.client.request(method, "/v2.1" + path, body, headers=headers, **kw)

    def create(self, **keypair):
        response = self.call("POST", "/os-keypairs", {"keypair": keypair})
        assert response.status_int == 201, response.body
        return response.json["keypair"]


@pytest.fixture
def ext(shared_host):
    return Extended(shared_host)


def keygen(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["ssh-keygen", *args], capture_output=True, text=True, input=stdin, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def write_secret(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
        file.write(text)
    return path


def sha256_by_ssh_keygen(public_line: str) -> str:
    with tempfile.TemporaryDirectory() as directory:
        path = write_secret(directory, "k.pub", public_line + "\n")
        return keygen("-l", "-E", "sha256", "-f", path).split()[1]


# --- the opt-in -------------------------------------------------------------------------


def test_without_the_opt_in_nothing_changes(ext):
    created = ext.create(name="plain", algorithm="ed25519")
    plain = ext.call("GET", "/os-keypairs/plain", header="compute 2.92")
    assert plain.status_int == 200
    assert set(plain.json["keypair"]) == {
        "name",
        "public_key",
        "fingerprint",
        "type",
        "user_id",
        "id",
        "created_at",
        "updated_at",
        "deleted",
        "deleted_at",
    }
    assert isinstance(plain.json["keypair"]["id"], int)
    assert plain.headers["OpenStack-API-Version"] == "compute 2.92"
    listed = ext.call("GET", "/os-keypairs", header="compute 2.92").json["keypairs"]
    assert set(listed[0]["keypair"]) == {"name", "public_key", "fingerprint", "type"}
    assert created["id"] != plain.json["keypair"]["id"]


def test_opted_in_responses_echo_the_contract_version(ext):
    response = ext.call("GET", "/os-keypairs")
    assert response.headers["OpenStack-API-Version"] == "compute 2.92, keypairs 1.0"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.92"


@pytest.mark.parametrize("version", ["1.99", "1.10", "2.0"])
def test_contract_version_out_of_range_is_406_naming_the_range(ext, version):
    response = ext.call("GET", "/os-keypairs", header=f"compute 2.92, keypairs {version}")
    assert fault(response) == (
        "computeFault",
        406,
        f"Version keypairs {version} is not supported. "
        f"Minimum is 1.0 and maximum is {extended.MAX_VERSION}.",
    )


def test_extension_record_advertises_the_range_only_when_asked(shared_host):
    client = Client(shared_host.api)
    plain = client.get("/v2.1/extensions/os-keypairs").json["extension"]
    assert "contract" not in plain
    asked = client.get(
        "/v2.1/extensions/os-keypairs", headers={"OpenStack-API-Version": "keypairs latest"}
    ).json["extension"]
    assert asked["contract"] == {
        "name": "keypairs",
        "min_version": "1.0",
        "max_version": extended.MAX_VERSION,
    }
    assert {k: v for k, v in asked.items() if k != "contract"} == plain


def test_legacy_endpoints_ignore_the_contract(shared_host):
    client = Client(shared_host.api, token=f"{helpers.unique('u')}:p1")
    response = client.post(
        "/v2/p1/os-keypairs",
        {"keypair": {"name": "k"}},
        headers={"OpenStack-API-Version": EXTENDED},
    )
    assert response.status_int == 200
    assert set(response.json["keypair"]) == {
        "name",
        "public_key",
        "fingerprint",
        "user_id",
        "private_key",
    }


# --- views ------------------------------------------------------------------------------


def test_views_carry_the_extended_facts(ext):
    line = helpers.ed25519_line("me@laptop")
    created = ext.create(name="k", public_key=line)
    shown = ext.call("GET", "/os-keypairs/k").json["keypair"]
    listed = ext.call("GET", "/os-keypairs").json["keypairs"][0]["keypair"]
    for view in (created, shown, listed):
        assert view["fingerprint_sha256"] == sha256_by_ssh_keygen(line)
        assert (view["algorithm"], view["bits"], view["comment"]) == ("ed25519", 256, "me@laptop")
        assert UUID.match(view["id"]) and TIMESTAMP.match(view["created_at"])
        assert view["fingerprint"] == helpers.ssh_keygen_md5(line)
    assert created["id"] == shown["id"] == listed["id"]
    assert {k: v for k, v in created.items() if k not in ("user_id",)} == listed


def test_keys_created_without_the_opt_in_have_the_facts_too(ext):
    line = helpers.ecdsa_line(384)
    plain = ext.call(
        "POST",
        "/os-keypairs",
        {"keypair": {"name": "p", "public_key": line}},
        header="compute 2.92",
    )
    assert plain.status_int == 201
    shown = ext.call("GET", "/os-keypairs/p").json["keypair"]
    assert (shown["algorithm"], shown["bits"]) == ("ecdsa-p384", 384)


def test_x509_views(ext):
    created = ext.create(name="cert", type="x509")
    assert created["algorithm"] == "rsa" and created["bits"] == 2048
    assert created["fingerprint_sha256"].startswith("SHA256:")


# --- generation -------------------------------------------------------------------------

COMBINATIONS = [
    (algorithm, fmt, passphrase)
    for algorithm in ("ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa")
    for fmt in ("openssh", "pkcs8", "pem", "ppk")
    for passphrase in (None, "correct horse")
    # ed25519 has no traditional PEM form (a refusal, tested below), and
    # OpenSSH 9.2 cannot read PKCS#8 ed25519 (openssl reads it, tested below).
    if not (algorithm == "ed25519" and fmt in ("pem", "pkcs8"))
]


def _public_from_private(private_key: str, fmt: str, passphrase: str | None) -> str:
    with tempfile.TemporaryDirectory() as directory:
        if fmt == "ppk":
            need_program("puttygen", "putty-tools")
            path = write_secret(directory, "k.ppk", private_key)
            args = ["puttygen", path, "-O", "private-openssh", "-o", f"{directory}/k"]
            if passphrase:
                write_secret(directory, "pass", passphrase)
                args += ["--old-passphrase", f"{directory}/pass"]
            subprocess.run(args, check=True, capture_output=True, timeout=60)
            # puttygen keeps the passphrase on the OpenSSH copy it writes.
            return keygen("-y", "-f", f"{directory}/k", "-P", passphrase or "").strip()
        path = write_secret(directory, "k", private_key)
        args = ["-y", "-f", path, "-P", passphrase or ""]
        return keygen(*args).strip()


@pytest.mark.parametrize(("algorithm", "fmt", "passphrase"), COMBINATIONS)
def test_generation_is_read_by_the_real_tools(shared_host, algorithm, fmt, passphrase):
    ext = Extended(shared_host)
    options = {"algorithm": algorithm, "private_key_format": fmt}
    if passphrase:
        options["passphrase"] = passphrase
    created = ext.create(name="gen", **options)
    public = _public_from_private(created["private_key"], fmt, passphrase)
    assert helpers.key_part(public) == helpers.key_part(created["public_key"])
    assert created["algorithm"] == algorithm
    stored = ext.call("GET", "/os-keypairs/gen").json["keypair"]
    assert "private_key" not in stored


def test_ed25519_pkcs8_is_read_by_openssl(ext):
    created = ext.create(
        name="ed8", algorithm="ed25519", private_key_format="pkcs8", passphrase="pw"
    )
    assert created["private_key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    result = subprocess.run(
        ["openssl", "pkey", "-passin", "pass:pw", "-pubout"],
        input=created["private_key"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    der = base64.b64decode("".join(result.stdout.splitlines()[1:-1]))
    blob = base64.b64decode(created["public_key"].split()[1])
    assert der[-32:] == blob[-32:]


def test_default_generation_is_ed25519_openssh(ext):
    created = ext.create(name="d")
    assert created["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert created["public_key"].startswith("ssh-ed25519 ")
    assert (created["algorithm"], created["bits"]) == ("ed25519", 256)


def test_generation_works_at_2_92_where_the_compatible_api_refuses_it(ext):
    plain = ext.call("POST", "/os-keypairs", {"keypair": {"name": "n"}}, header="compute 2.92")
    assert fault(plain)[1] == 400
    assert ext.create(name="n")["private_key"]


@pytest.mark.parametrize("bits", [3072, 4096])
def test_rsa_sizes(ext, bits):
    created = ext.create(name=f"r{bits}", algorithm="rsa", bits=bits)
    assert created["bits"] == bits


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"algorithm": "ed25519", "private_key_format": "pem"}, "no traditional PEM form"),
        ({"algorithm": "rsa", "bits": 1024}, "1024"),
        ({"algorithm": "ecdsa-p256", "bits": 384}, "384"),
        ({"algorithm": "dsa"}, "'dsa' is not one of"),
        ({"private_key_format": "jks"}, "'jks' is not one of"),
        ({"passphrase": ""}, "passphrase. It may not be empty."),
        ({"type": "x509", "algorithm": "rsa"}, "only apply to keys the server generates"),
        ({"public_key": "PLACEHOLDER", "algorithm": "rsa"}, "only apply to keys the server"),
        ({"colour": "blue"}, "('colour' was unexpected)"),
    ],
)
def test_generation_refusals(ext, options, needle):
    if options.get("public_key") == "PLACEHOLDER":
        options["public_key"] = helpers.ed25519_line()
    response = ext.call("POST", "/os-keypairs", {"keypair": {"name": "bad", **options}})
    name, code, message = fault(response)
    assert code == 400 and needle in message, message
    assert ext.call("GET", "/os-keypairs/bad").status_int == 404


def test_generation_honours_allow_generation(make_host):
    ext = Extended(make_host(keypairs__allow_generation=False))
    response = ext.call("POST", "/os-keypairs", {"keypair": {"name": "g"}})
    assert fault(response)[2].endswith("import a public_key instead")


# --- import -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openssh_key(tmp_path_factory):
    directory = tmp_path_factory.mktemp("import")
    path = directory / "id"
    keygen("-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "alice@example", "-f", str(path))
    return path


@pytest.mark.parametrize("form", ["RFC4716", "PKCS8", "PEM"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_import_other_formats_stores_one_canonical_line(ext, openssh_key, form, newline):
    exported = keygen("-e", "-m", form, "-f", f"{openssh_key}.pub")
    text = exported.replace("\n", newline)
    created = ext.create(name="imp", public_key=text)
    original = open(f"{openssh_key}.pub").read().strip()
    assert helpers.key_part(created["public_key"]) == helpers.key_part(original)
    assert "\n" not in created["public_key"]
    assert (
        ext.call("GET", "/os-keypairs/imp").json["keypair"]["public_key"] == (created["public_key"])
    )
    assert created["fingerprint"] == helpers.ssh_keygen_md5(original)


def test_rfc4716_comment_header_becomes_the_comment(ext, openssh_key):
    exported = keygen("-e", "-m", "RFC4716", "-f", f"{openssh_key}.pub")
    lines = [line for line in exported.splitlines() if not line.startswith("Comment:")]
    lines.insert(1, 'Comment: "team key"')
    created = ext.create(name="c", public_key="\n".join(lines) + "\n")
    assert created["comment"] == "team key"
    assert created["public_key"].endswith(" team key")


@pytest.mark.parametrize("case", build_corpus()[:20], ids=lambda c: c.id)
def test_import_refusals_match_the_compatible_api(ext, case):
    response = ext.call("POST", "/os-keypairs", {"keypair": {"name": "m", "public_key": case.text}})
    name, code, message = fault(response)
    assert code == 400, message
    assert ext.call("GET", "/os-keypairs/m").status_int == 404


# --- list filters ---------------------------------------------------------------------------


@pytest.fixture
def populated(ext):
    keys = {
        "alpha-ed": helpers.ed25519_line(),
        "alpha-rsa": helpers.rsa_line(),
        "beta-ec": helpers.ecdsa_line(256),
        "Alpha-upper": helpers.ed25519_line(),
    }
    created = {name: ext.create(name=name, public_key=line) for name, line in keys.items()}
    created["cert"] = ext.create(name="cert", type="x509")
    return created


def names(response):
    assert response.status_int == 200, response.body
    return [k["keypair"]["name"] for k in response.json["keypairs"]]


def test_filter_by_fingerprint_in_either_form(ext, populated):
    target = populated["beta-ec"]
    assert names(ext.call("GET", f"/os-keypairs?fingerprint={target['fingerprint']}")) == [
        "beta-ec"
    ]
    sha = target["fingerprint_sha256"].replace("+", "%2B").replace("/", "%2F")
    assert names(ext.call("GET", f"/os-keypairs?fingerprint={sha}")) == ["beta-ec"]


def test_filter_by_algorithm_type_and_prefix(ext, populated):
    assert names(ext.call("GET", "/os-keypairs?algorithm=ed25519")) == ["Alpha-upper", "alpha-ed"]
    assert names(ext.call("GET", "/os-keypairs?type=x509")) == ["cert"]
    assert names(ext.call("GET", "/os-keypairs?name_prefix=alpha")) == ["alpha-ed", "alpha-rsa"]
    assert names(ext.call("GET", "/os-keypairs?name_prefix=alpha&algorithm=rsa")) == ["alpha-rsa"]
    assert names(ext.call("GET", "/os-keypairs?name_prefix=%25")) == []


def test_filters_page_with_links(ext, populated):
    first = ext.call("GET", "/os-keypairs?algorithm=ed25519&limit=1")
    assert names(first) == ["Alpha-upper"]
    (link,) = first.json["keypairs_links"]
    assert link["rel"] == "next"
    assert link["href"] == (
        "http://localhost/v2.1/os-keypairs?algorithm=ed25519&limit=1&marker=Alpha-upper"
    )
    second = ext.call("GET", "/os-keypairs?algorithm=ed25519&limit=1&marker=Alpha-upper")
    assert names(second) == ["alpha-ed"]
    third = ext.call("GET", "/os-keypairs?algorithm=ed25519&limit=1&marker=alpha-ed")
    assert names(third) == [] and "keypairs_links" not in third.json


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("colour=blue", "('colour' was unexpected)"),
        ("algorithm=dsa", "Expected one of"),
        ("type=pgp", "query parameters type"),
        ("limit=-1", "query parameters limit"),
        ("marker=nope", "Marker nope could not be found."),
    ],
)
def test_list_refusals(ext, query, needle):
    name, code, message = fault(ext.call("GET", f"/os-keypairs?{query}"))
    assert code == 400 and needle in message


# --- validate-only --------------------------------------------------------------------------


def test_validate_returns_what_would_be_stored_and_stores_nothing(make_host, openssh_key):
    host = make_host(quota__key_pairs=1)
    ext = Extended(host)
    ext.create(name="only-one", public_key=helpers.ed25519_line())
    exported = keygen("-e", "-m", "RFC4716", "-f", f"{openssh_key}.pub")
    response = ext.call("POST", "/os-keypairs/validate", {"keypair": {"public_key": exported}})
    assert response.status_int == 200, response.body
    result = response.json["keypair"]
    original = open(f"{openssh_key}.pub").read().strip()
    assert helpers.key_part(result["public_key"]) == helpers.key_part(original)
    assert result["fingerprint_sha256"] == sha256_by_ssh_keygen(original)
    assert (result["algorithm"], result["bits"], result["type"]) == ("rsa", 2048, "ssh")
    assert set(result) == {
        "public_key",
        "type",
        "fingerprint",
        "fingerprint_sha256",
        "algorithm",
        "bits",
        "comment",
    }
    assert names(ext.call("GET", "/os-keypairs")) == ["only-one"]


def test_validate_refuses_bad_keys_with_the_same_messages(ext):
    response = ext.call(
        "POST",
        "/os-keypairs/validate",
        {"keypair": {"public_key": "ssh-dss AAAAB3NzaC1kc3MAAACBAP"}},
    )
    name, code, message = fault(response)
    assert code == 400 and message.startswith("Keypair data is invalid:")


def test_validate_cannot_collide_with_a_keypair_named_validate(ext):
    ext.create(name="validate", public_key=helpers.ed25519_line())
    assert ext.call("GET", "/os-keypairs/validate").json["keypair"]["name"] == "validate"
    plain = ext.call(
        "POST",
        "/os-keypairs/validate",
        {"keypair": {"public_key": helpers.ed25519_line()}},
        header="compute 2.92",
    )
    assert fault(plain)[:2] == ("badMethod", 405)
    assert ext.call("DELETE", "/os-keypairs/validate").status_int == 204


# --- secrets ------------------------------------------------------------------------------


def private_lines(private_key: str) -> list[str]:
    """Base64 lines of the secret part (formats also carry the public blob)."""
    lines = private_key.splitlines()
    if lines[0].startswith("PuTTY-User-Key-File"):
        start = next(i for i, line in enumerate(lines) if line.startswith("Private-Lines:"))
        return lines[start + 1 : start + 4]
    body = [line for line in lines if len(line) >= 60 and ":" not in line]
    return body[-4:-1]


def test_private_keys_and_passphrases_are_not_stored_or_logged(make_host, caplog):
    caplog.set_level("DEBUG")
    host = make_host()
    ext = Extended(host)
    secrets = []
    for index, fmt in enumerate(("openssh", "pkcs8", "pem", "ppk")):
        passphrase = f"pass-phrase-{index}-{helpers.unique('s')}"
        created = ext.create(
            name=f"s{index}", algorithm="rsa", private_key_format=fmt, passphrase=passphrase
        )
        secrets += [passphrase, *private_lines(created["private_key"])]
    engine = host.database.writer.get_engine()
    with engine.connect() as connection:
        dump = repr([tuple(row) for row in connection.exec_driver_sql("SELECT * FROM key_pairs")])
    logs = caplog.text
    for secret in secrets:
        assert secret not in dump
        assert secret not in logs
    assert "PRIVATE KEY" not in dump and "PuTTY-User-Key-File" not in dump


def test_validate_an_x509_certificate(ext):
    certificate = helpers.x509_certificate()
    response = ext.call(
        "POST", "/os-keypairs/validate", {"keypair": {"public_key": certificate, "type": "x509"}}
    )
    assert response.status_int == 200, response.body
    assert response.json["keypair"]["type"] == "x509"
    assert response.json["keypair"]["fingerprint"] == helpers.sha1_fingerprint(certificate)
