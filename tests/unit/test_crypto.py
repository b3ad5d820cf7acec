"""keypairs_ext.crypto against the real tools: ssh-keygen, puttygen, openssl.

No mocks: keys come from ssh-keygen or from the module under test, and every
claim about a key is checked by the tool a user would run on it.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import subprocess
from pathlib import Path

import paramiko
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keypairs_ext import crypto
from keypairs_ext.exception import InvalidKeypair
from tests.conftest import need_program
from tests.conftest import run_program as run
from tests.unit.malformed_keys import MalformedKey, b64, build_corpus, ssh_string

PASSPHRASE = "correct horse \u00e9 battery"

# name -> ssh-keygen arguments, expected algorithm, expected bits
KEYGEN_KEYS = {
    "rsa-2048": (["-t", "rsa", "-b", "2048"], "rsa", 2048),
    "rsa-3072": (["-t", "rsa", "-b", "3072"], "rsa", 3072),
    "rsa-4096": (["-t", "rsa", "-b", "4096"], "rsa", 4096),
    "ed25519": (["-t", "ed25519"], "ed25519", 256),
    "ecdsa-256": (["-t", "ecdsa", "-b", "256"], "ecdsa-p256", 256),
    "ecdsa-384": (["-t", "ecdsa", "-b", "384"], "ecdsa-p384", 384),
    "ecdsa-521": (["-t", "ecdsa", "-b", "521"], "ecdsa-p521", 521),
}


def _tool(name: str, package: str) -> str:
    return need_program(name, package)


def fails(*args: str | Path) -> bool:
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode != 0


def key_part(line: str) -> str:
    """The "type base64" part of an OpenSSH public line."""
    return " ".join(line.split()[:2])


def keygen_fingerprints(path: Path) -> tuple[int, str, str]:
    """(bits, md5 without prefix, sha256) as ssh-keygen -l prints them."""
    md5 = run("ssh-keygen", "-l", "-E", "md5", "-f", path).split()
    sha256 = run("ssh-keygen", "-l", "-E", "sha256", "-f", path).split()
    assert md5[1].startswith("MD5:")
    return int(md5[0]), md5[1].removeprefix("MD5:"), sha256[1]


@pytest.fixture(scope="module")
def keygen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One key of every ssh-keygen type, made once and in parallel: RSA 4096
    is slow."""
    _tool("ssh-keygen", "openssh-client")
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


def sk_line(keygen_dir: Path, name: str) -> str:
    """A FIDO public line built from a real key plus an application string."""
    label, encoded = (keygen_dir / f"{name}.pub").read_text().split()[:2]
    blob = base64.b64decode(encoded)
    fields = blob[4 + len(label) :]  # the key fields after the type string
    sk_label = {
        "ssh-ed25519": "sk-ssh-ed25519@openssh.com",
        "ecdsa-sha2-nistp256": "sk-ecdsa-sha2-nistp256@openssh.com",
    }[label]
    sk_blob = ssh_string(sk_label.encode()) + fields + ssh_string(b"ssh:")
    return f"{sk_label} {b64(sk_blob)} fido key"


# --- the compatible import ------------------------------------------------------


@pytest.mark.parametrize("name", KEYGEN_KEYS)
def test_fingerprints_match_ssh_keygen(keygen_dir: Path, name: str) -> None:
    path = keygen_dir / f"{name}.pub"
    line = path.read_text()
    key = crypto.parse_openssh_public_key(line)
    bits, md5, sha256 = keygen_fingerprints(path)
    assert (key.fingerprint, key.fingerprint_sha256, key.bits) == (md5, sha256, bits)
    assert (key.type, key.algorithm, key.bits) == ("ssh", *KEYGEN_KEYS[name][1:])
    assert key.label == line.split()[0]
    assert key.comment == f"{name} test key"
    assert key.openssh_line == line.rstrip("\n")


@pytest.mark.parametrize(
    "name, algorithm", [("ed25519", "sk-ed25519"), ("ecdsa-256", "sk-ecdsa-p256")]
)
def test_security_key_fingerprints_match_ssh_keygen(
    keygen_dir: Path, tmp_path: Path, name: str, algorithm: str
) -> None:
    line = sk_line(keygen_dir, name)
    path = tmp_path / "sk.pub"
    path.write_text(line + "\n")
    key = crypto.parse_openssh_public_key(line)
    assert (key.bits, key.fingerprint, key.fingerprint_sha256) == keygen_fingerprints(path)
    assert (key.algorithm, key.comment, key.openssh_line) == (
        algorithm,
        "fido key",
        line,
    )


@pytest.mark.parametrize(
    "variant",
    [
        "{label}\t{data}\t{comment}",
        "{label}   {data}  \t {comment}",
        "  {label} {data} {comment}  ",
        "{label} {data} {comment}\n",
    ],
)
def test_any_blanks_between_fields(keygen_dir: Path, variant: str) -> None:
    label, data, comment = (keygen_dir / "ed25519.pub").read_text().split(maxsplit=2)
    comment = comment.strip()
    key = crypto.parse_openssh_public_key(variant.format(label=label, data=data, comment=comment))
    assert key.openssh_line == f"{label} {data} {comment}"
    assert key.fingerprint == keygen_fingerprints(keygen_dir / "ed25519.pub")[1]


def test_comment_is_optional_and_may_hold_spaces_and_unicode(keygen_dir: Path) -> None:
    label, data = (keygen_dir / "ed25519.pub").read_text().split()[:2]
    assert crypto.parse_openssh_public_key(f"{label} {data}").comment == ""
    assert crypto.parse_openssh_public_key(f"{label} {data} \n").comment == ""
    key = crypto.parse_openssh_public_key(f"{label} {data} Jos\u00e9 at  home")
    assert key.comment == "Jos\u00e9 at  home"


def test_allowed_algorithms_restricts_types(keygen_dir: Path) -> None:
    rsa_line = (keygen_dir / "rsa-2048.pub").read_text()
    assert crypto.parse_openssh_public_key(rsa_line, allowed_algorithms={"rsa"})
    with pytest.raises(InvalidKeypair, match="key type ssh-rsa is not allowed here"):
        crypto.parse_openssh_public_key(rsa_line, allowed_algorithms=("ed25519", "ecdsa-p256"))


def test_min_rsa_bits_is_configurable(keygen_dir: Path) -> None:
    rsa_line = (keygen_dir / "rsa-2048.pub").read_text()
    with pytest.raises(InvalidKeypair, match="2048 bits; at least 3072 bits"):
        crypto.parse_openssh_public_key(rsa_line, min_rsa_bits=3072)
    assert (
        crypto.parse_openssh_public_key(
            (keygen_dir / "rsa-3072.pub").read_text(), min_rsa_bits=3072
        ).bits
        == 3072
    )


def test_algorithms_constant() -> None:
    assert crypto.ALGORITHMS == (
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "rsa",
        "sk-ed25519",
        "sk-ecdsa-p256",
    )


def test_corpus_is_large_and_distinct() -> None:
    corpus = build_corpus()
    assert len(corpus) >= 40
    assert len({case.id for case in corpus}) == len(corpus)
    assert len({case.text for case in corpus}) == len(corpus)


@pytest.mark.parametrize(
    "text, reason",
    [case[1:] for case in build_corpus()],
    ids=[case.id for case in build_corpus()],
)
def test_malformed_key_is_rejected_with_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidKeypair) as raised:
        crypto.parse_openssh_public_key(text)
    assert reason in str(raised.value)
    assert str(raised.value).startswith("Keypair data is invalid: ")


# --- the extended import ----------------------------------------------------------

EXPORTS = [
    (name, mode)
    for name in KEYGEN_KEYS
    for mode in ("RFC4716", "PKCS8", "PEM")
    if not (name == "ed25519" and mode != "RFC4716")
]  # ssh-keygen 9.2 can't


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("name, mode", EXPORTS)
def test_exported_formats_import_to_the_same_key(
    keygen_dir: Path, name: str, mode: str, crlf: bool
) -> None:
    path = keygen_dir / f"{name}.pub"
    exported = run("ssh-keygen", "-e", "-m", mode, "-f", path)
    if crlf:
        exported = exported.replace("\n", "\r\n")
    key = crypto.parse_public_key_any(exported)
    original = crypto.parse_openssh_public_key(path.read_text())
    assert key_part(key.openssh_line) == key_part(original.openssh_line)
    assert (key.fingerprint, key.fingerprint_sha256) == (
        original.fingerprint,
        original.fingerprint_sha256,
    )
    if mode == "RFC4716":
        # ssh-keygen writes Comment: "<bits>-bit <TYPE>, converted by ...".
        assert key.comment.startswith(f"{original.bits}-bit ")
        assert key.openssh_line == f"{key_part(original.openssh_line)} {key.comment}"
    else:
        assert key.comment == "" and key.openssh_line == key_part(original.openssh_line)


def test_ed25519_subject_public_key_info_imports(keygen_dir: Path) -> None:
    line = (keygen_dir / "ed25519.pub").read_text()
    loaded = serialization.load_ssh_public_key(line.encode())
    pem = loaded.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = crypto.parse_public_key_any(pem.decode())
    assert key.openssh_line == key_part(line)


def test_rfc4716_headers_with_continuation_lines(keygen_dir: Path) -> None:
    label, data = (keygen_dir / "rsa-2048.pub").read_text().split()[:2]
    body = "\r\n".join(data[i : i + 70] for i in range(0, len(data), 70))
    text = (
        "---- BEGIN SSH2 PUBLIC KEY ----\r\n"
        "x-command: /bin/true\r\n"
        'Comment: "a comment that is long enough to be \\\r\n'
        'continued over two lines"\r\n'
        "Subject: me\r\n"
        f"{body}\r\n"
        "---- END SSH2 PUBLIC KEY ----\r\n"
    )
    key = crypto.parse_public_key_any(text)
    assert key.comment == "a comment that is long enough to be continued over two lines"
    assert key.openssh_line == f"{label} {data} {key.comment}"


def test_extended_import_accepts_an_openssh_line(keygen_dir: Path) -> None:
    line = (keygen_dir / "ecdsa-384.pub").read_text()
    assert crypto.parse_public_key_any(line.rstrip("\n") + "\r\n") == (
        crypto.parse_openssh_public_key(line)
    )


def _rfc4716(line: str) -> str:
    data = line.split()[1]
    return "\n".join(
        [
            "---- BEGIN SSH2 PUBLIC KEY ----",
            *(data[i : i + 70] for i in range(0, len(data), 70)),
            "---- END SSH2 PUBLIC KEY ----",
        ]
    )


def test_extended_import_holds_the_key_to_the_same_rules() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    weak_line = weak.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    weak_pem = weak.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    ).decode()
    for text in (_rfc4716(weak_line), weak_pem):
        with pytest.raises(InvalidKeypair, match="1024 bits; at least 2048"):
            crypto.parse_public_key_any(text)
    ok = crypto.parse_public_key_any(weak_pem, min_rsa_bits=1024, allowed_algorithms={"rsa"})
    assert ok.openssh_line == weak_line
    with pytest.raises(InvalidKeypair, match="not allowed here"):
        crypto.parse_public_key_any(weak_pem, min_rsa_bits=1024, allowed_algorithms={"ed25519"})


@pytest.mark.parametrize(
    "case",
    [case for case in build_corpus() if case.id.startswith(("private-key", "x509"))],
    ids=lambda case: case.id,
)
def test_extended_import_rejects_private_keys_and_certificates(
    case: MalformedKey,
) -> None:
    with pytest.raises(InvalidKeypair, match=case.reason):
        crypto.parse_public_key_any(case.text)


def test_extended_import_rejections(keygen_dir: Path) -> None:
    line = (keygen_dir / "ed25519.pub").read_text()
    block = _rfc4716(line)
    dsa_pem = (
        dsa.generate_private_key(1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    ed448_pem = (
        ed448.Ed448PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    dss = "ssh-dss " + b64(ssh_string(b"ssh-dss") + bytes(20))
    cases = {
        block + "\n" + block: "one block",
        block + "\n" + line: "one block",
        block.rsplit("\n", 1)[0]: "one block",
        _rfc4716(dss): "DSA",
        block.replace("\n---- END", "\nComment: late\n---- END"): "after the key",
        block.replace(line.split()[1], "Comment: x\\"): "continues past the key",
        ed448_pem: "unsupported type",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n": ("could not be parsed"),
        dsa_pem: "DSA",
        "my key:\n" + block: "text before the key's BEGIN line",
        "x" + ed448_pem: "text before the key's BEGIN line",
        block.replace("----\n", "---- junk\n", 1): "one block from",
        "": "empty",
    }
    for text, reason in cases.items():
        with pytest.raises(InvalidKeypair, match=reason):
            crypto.parse_public_key_any(text)


# --- generation -----------------------------------------------------------------

GENERATION_CASES = [
    *(
        (algorithm, None, fmt, passphrase)
        for algorithm in crypto.GENERATABLE_ALGORITHMS
        for fmt in crypto.PRIVATE_KEY_FORMATS
        if not (algorithm == "ed25519" and fmt == "pem")
        for passphrase in (None, PASSPHRASE)
    ),
    # The other RSA sizes once each: the size does not meet the format's code.
    ("rsa", 3072, "openssh", None),
    ("rsa", 4096, "ppk", PASSPHRASE),
]
EXPECTED_BEGIN = {
    ("openssh", False): "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    ("openssh", True): "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    ("pkcs8", False): "-----BEGIN PRIVATE KEY-----\n",
    ("pkcs8", True): "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
    ("ppk", False): "PuTTY-User-Key-File-3: ",
    ("ppk", True): "PuTTY-User-Key-File-3: ",
}


@functools.cache
def generated(
    algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> crypto.GeneratedKeypair:
    return crypto.generate_ssh_keypair(algorithm, bits, fmt, passphrase)


def _write_private(tmp_path: Path, pair: crypto.GeneratedKeypair) -> Path:
    path = tmp_path / "private"
    path.write_text(pair.private_key)
    path.chmod(0o600)  # ssh-keygen refuses readable private keys
    return path


def _puttygen(path: Path, passphrase: str | None, *args: str | Path) -> str:
    _tool("puttygen", "putty-tools")
    if passphrase is None:
        return run("puttygen", path, *args)
    secret = path.with_name("passphrase")
    secret.write_text(passphrase)
    return run("puttygen", path, *args, "--old-passphrase", secret)


def _public_from_private(
    tmp_path: Path, pair: crypto.GeneratedKeypair, fmt: str, passphrase: str | None
) -> str:
    """What the user's own tool derives from the private key."""
    path = _write_private(tmp_path, pair)
    if fmt == "pkcs8" and pair.public_key.algorithm == "ed25519":
        # ssh-keygen 9.2 (Debian bookworm) cannot read PKCS#8 Ed25519; ask OpenSSL.
        spki = run(
            "openssl",
            "pkey",
            "-in",
            path,
            "-passin",
            f"pass:{passphrase or ''}",
            "-pubout",
        )
        return (
            serialization.load_pem_public_key(spki.encode())
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
    if fmt != "ppk":
        return run("ssh-keygen", "-y", "-P", passphrase or "", "-f", path)
    # public-openssh reads only the clear public half; converting the private
    # half proves the MAC, the decryption and the key fields are right.
    public = _puttygen(path, passphrase, "-O", "public-openssh")
    converted = tmp_path / "converted"
    _puttygen(path, passphrase, "-O", "private-openssh", "-o", converted)
    # puttygen keeps the passphrase on the converted key.
    derived = run("ssh-keygen", "-y", "-P", passphrase or "", "-f", converted)
    assert key_part(derived) == key_part(public)
    return public


@pytest.mark.parametrize("algorithm, bits, fmt, passphrase", GENERATION_CASES)
def test_generated_private_key_reproduces_the_public_line(
    tmp_path: Path, algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> None:
    pair = generated(algorithm, bits, fmt, passphrase)
    assert pair.public_text == pair.public_key.openssh_line
    assert pair.public_text.endswith(" Generated-by-Nova")
    assert pair.public_key.algorithm == algorithm
    assert pair.public_key.bits == (
        bits
        or {"rsa": 2048, "ed25519": 256}.get(algorithm)
        or int(algorithm.removeprefix("ecdsa-p"))
    )
    assert crypto.parse_openssh_public_key(pair.public_text) == pair.public_key
    derived = _public_from_private(tmp_path, pair, fmt, passphrase)
    assert key_part(derived) == key_part(pair.public_text)


@pytest.mark.parametrize(
    "algorithm, bits, fmt, passphrase",
    [c for c in GENERATION_CASES if c[2] in ("openssh", "pem")],
)
def test_paramiko_loads_generated_openssh_and_pem_keys(
    tmp_path: Path, algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> None:
    pair = generated(algorithm, bits, fmt, passphrase)
    loaded = paramiko.PKey.from_path(
        _write_private(tmp_path, pair), passphrase and passphrase.encode()
    )
    assert f"{loaded.get_name()} {loaded.get_base64()}" == key_part(pair.public_text)


@pytest.mark.parametrize("algorithm, bits, fmt, passphrase", [c for c in GENERATION_CASES if c[3]])
def test_generated_private_key_is_encrypted(
    tmp_path: Path, algorithm: str, bits: int | None, fmt: str, passphrase: str
) -> None:
    pair = generated(algorithm, bits, fmt, passphrase)
    path = _write_private(tmp_path, pair)
    if fmt == "ppk":
        assert "Encryption: aes256-cbc\n" in pair.private_key
        assert "Key-Derivation: Argon2id\n" in pair.private_key
        secret = tmp_path / "wrong"
        secret.write_text("wrong")
        assert fails(
            "puttygen",
            path,
            "-O",
            "private-openssh",
            "-o",
            tmp_path / "out",
            "--old-passphrase",
            secret,
        )
        return
    assert fails("ssh-keygen", "-y", "-P", "wrong", "-f", path)
    if fmt == "openssh":
        body = base64.b64decode("".join(pair.private_key.splitlines()[1:-1]))
        assert b"aes256-ctr" in body and b"bcrypt" in body
    elif fmt == "pem":
        assert "Proc-Type: 4,ENCRYPTED\n" in pair.private_key


@pytest.mark.parametrize("algorithm, bits, fmt, passphrase", GENERATION_CASES)
def test_generated_private_key_headers(
    algorithm: str, bits: int | None, fmt: str, passphrase: str | None
) -> None:
    private = generated(algorithm, bits, fmt, passphrase).private_key
    if fmt == "pem":
        kind = "RSA" if algorithm == "rsa" else "EC"
        assert private.startswith(f"-----BEGIN {kind} PRIVATE KEY-----\n")
    else:
        assert private.startswith(EXPECTED_BEGIN[fmt, passphrase is not None])
    if fmt == "ppk":
        assert ("Encryption: none\n" in private) == (passphrase is None)
        assert "Comment: Generated-by-Nova\n" in private


def test_default_generation_is_what_nova_clients_expect() -> None:
    pair = crypto.generate_ssh_keypair()
    assert pair.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert pair.private_key.endswith("-----END RSA PRIVATE KEY-----\n")
    label, data, comment = pair.public_text.split(" ")
    assert (label, comment) == ("ssh-rsa", "Generated-by-Nova")
    assert data.startswith("AAAA")
    assert (pair.public_key.algorithm, pair.public_key.bits) == ("rsa", 2048)
    assert pair.public_key.fingerprint == ":".join(
        f"{b:02x}" for b in hashlib.md5(base64.b64decode(data)).digest()
    )


def test_generation_with_a_custom_comment() -> None:
    pair = crypto.generate_ssh_keypair("ed25519", private_key_format="ppk", comment="alice@laptop")
    assert pair.public_text.endswith(" alice@laptop")
    assert "Comment: alice@laptop\n" in pair.private_key
    assert (
        crypto.generate_ssh_keypair(
            "ed25519", private_key_format="openssh", comment=""
        ).public_text.count(" ")
        == 1
    )


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"algorithm": "dsa"}, "cannot generate algorithm 'dsa'"),
        ({"algorithm": "sk-ed25519"}, "authenticator"),
        ({"algorithm": "rsa", "bits": 1024}, "1024 bits is not valid for rsa"),
        ({"algorithm": "rsa", "bits": 8192}, "use 2048 or 3072 or 4096"),
        ({"algorithm": "ed25519", "bits": 384}, "not valid for ed25519"),
        ({"algorithm": "ecdsa-p384", "bits": 256}, "use 384"),
        ({"private_key_format": "der"}, "unknown private key format 'der'"),
        ({"algorithm": "ed25519", "private_key_format": "pem"}, "openssh or pkcs8"),
        ({"passphrase": ""}, "passphrase must not be empty"),
        ({"comment": "two\nlines"}, "comment must be one line"),
    ],
)
def test_invalid_generation_requests(kwargs: dict, reason: str) -> None:
    with pytest.raises(InvalidKeypair, match=reason):
        crypto.generate_ssh_keypair(**kwargs)


# --- X.509 ----------------------------------------------------------------------

USER_ID = "8f7c2a4e1b9d4f3a9c6e5d4b3a291807"


@pytest.fixture(scope="module")
def x509_pair() -> crypto.GeneratedKeypair:
    return crypto.generate_x509_keypair(USER_ID)


def test_x509_bundle_loads_with_an_empty_password(
    x509_pair: crypto.GeneratedKeypair, tmp_path: Path
) -> None:
    bundle = base64.b64decode(x509_pair.private_key, validate=True)
    assert "\n" not in x509_pair.private_key
    key, certificate, _ = pkcs12.load_key_and_certificates(bundle, b"")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert certificate is not None
    assert certificate.public_bytes(serialization.Encoding.PEM).decode() == (x509_pair.public_text)
    path = tmp_path / "bundle.p12"
    path.write_bytes(bundle)
    assert "BEGIN CERTIFICATE" in run(
        "openssl", "pkcs12", "-in", path, "-passin", "pass:", "-nokeys"
    )


def test_x509_certificate_is_a_client_certificate_for_the_user(
    x509_pair: crypto.GeneratedKeypair,
) -> None:
    certificate = x509.load_pem_x509_certificate(x509_pair.public_text.encode())
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [attribute.value for attribute in common_name] == [USER_ID]
    assert certificate.issuer == certificate.subject
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(usage.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    names = certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.OtherName)
    upn = f"{USER_ID}@localhost".encode()
    assert [(n.type_id.dotted_string, n.value) for n in names] == [
        ("1.3.6.1.4.1.311.20.2.3", b"\x0c" + bytes([len(upn)]) + upn)
    ]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=3650)


def test_x509_fingerprint_matches_openssl(
    x509_pair: crypto.GeneratedKeypair, tmp_path: Path
) -> None:
    path = tmp_path / "cert.pem"
    path.write_text(x509_pair.public_text)
    printed = run("openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", path)
    assert x509_pair.public_key.fingerprint == printed.strip().split("=", 1)[1].lower()
    assert x509_pair.public_key == crypto.parse_x509_certificate(x509_pair.public_text)
    assert (
        x509_pair.public_key.type,
        x509_pair.public_key.algorithm,
        x509_pair.public_key.bits,
    ) == ("x509", "rsa", 2048)
    assert x509_pair.public_key.fingerprint_sha256.startswith("SHA256:")


def test_x509_user_id_must_fit_a_common_name() -> None:
    assert crypto.generate_x509_keypair("u" * 64).public_key.type == "x509"
    with pytest.raises(InvalidKeypair, match="65 characters, too long"):
        crypto.generate_x509_keypair("u" * 65)
    with pytest.raises(InvalidKeypair, match="user id is empty"):
        crypto.generate_x509_keypair("")


def test_x509_fingerprint_sha256_is_over_the_der(
    x509_pair: crypto.GeneratedKeypair,
) -> None:
    der = x509.load_pem_x509_certificate(x509_pair.public_text.encode()).public_bytes(
        serialization.Encoding.DER
    )
    digest = base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert x509_pair.public_key.fingerprint_sha256 == f"SHA256:{digest}"


def test_x509_import_rejections(x509_pair: crypto.GeneratedKeypair, keygen_dir: Path) -> None:
    private = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    broken = x509_pair.public_text.replace("\n", "\nAAAA", 1)
    cases = {
        "": "certificate is empty",
        (keygen_dir / "ed25519.pub").read_text(): "must be one PEM certificate",
        x509_pair.public_text * 2: "must be one PEM certificate",
        x509_pair.public_text + "ssh-ed25519 AAAA smuggled\n": "and nothing else",
        x509_pair.public_text + private: "contains a private key",
        broken: "could not be parsed",
        "\u00e9" + x509_pair.public_text: "non-ASCII",
    }
    for text, reason in cases.items():
        with pytest.raises(InvalidKeypair, match=reason):
            crypto.parse_x509_certificate(text)
