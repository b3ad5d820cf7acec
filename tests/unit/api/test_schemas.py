"""os-keypairs request rules per microversion: bodies, names, queries, user ids."""

from __future__ import annotations

import jsonschema
import pytest

from keypairs_ext.api import schemas
from keypairs_ext.host.contract import Invalid, Version

V = Version.parse


def accepts(schema: dict, body: object) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(body)


@pytest.mark.parametrize(
    ("version", "legacy", "expected"),
    [
        ("2.1", False, schemas.CREATE_V21),
        ("2.2", False, schemas.CREATE_V22),
        ("2.9", False, schemas.CREATE_V22),
        ("2.10", False, schemas.CREATE_V210),
        ("2.91", False, schemas.CREATE_V210),
        ("2.92", False, schemas.CREATE_V292),
        ("2.92", True, schemas.CREATE_V20),
    ],
)
def test_create_schema_follows_the_microversion(version, legacy, expected):
    assert schemas.create_schema(V(version), legacy) is expected


def test_type_arrives_at_2_2_and_user_id_at_2_10():
    typed = {"keypair": {"name": "k", "type": "x509"}}
    owned = {"keypair": {"name": "k", "user_id": "u"}}
    assert not accepts(schemas.CREATE_V21, typed)
    assert accepts(schemas.CREATE_V22, typed)
    assert not accepts(schemas.CREATE_V22, owned)
    assert accepts(schemas.CREATE_V210, owned)
    assert not accepts(schemas.CREATE_V22, {"keypair": {"name": "k", "type": "pgp"}})


def test_public_key_is_required_from_2_92():
    assert accepts(schemas.CREATE_V210, {"keypair": {"name": "k"}})
    assert not accepts(schemas.CREATE_V292, {"keypair": {"name": "k"}})
    assert accepts(schemas.CREATE_V292, {"keypair": {"name": "k", "public_key": "ssh-ed25519 A"}})


def test_legacy_body_tolerates_extra_properties_but_needs_a_name():
    assert accepts(schemas.CREATE_V20, {"keypair": {"name": "k", "other": 1}, "more": 2})
    assert not accepts(schemas.CREATE_V20, {"keypair": {}})


@pytest.mark.parametrize("name", ["k", "my key", "a_b-c", "x" * 255])
def test_names_accepted_at_every_version(name):
    schemas.check_name(name, V("2.1"))
    schemas.check_name(name, V("2.92"))


@pytest.mark.parametrize("name", ["me@laptop", "key.pem"])
def test_at_and_dot_are_names_from_2_92(name):
    schemas.check_name(name, V("2.92"))
    with pytest.raises(Invalid, match="may contain only letters, digits, '_', '-' and inner"):
        schemas.check_name(name, V("2.91"))


@pytest.mark.parametrize("name", [" lead", "trail ", "new\nline", "tab\t", "naïve"])
def test_names_refused_with_what_is_allowed(name):
    with pytest.raises(Invalid) as raised:
        schemas.check_name(name, V("2.92"))
    assert str(raised.value) == (
        f"Invalid input for field/attribute name. Value: {name!r}. A key pair name may "
        "contain only letters, digits, '_', '-', '@', '.' and inner spaces, and may not "
        "start or end with a space."
    )


def test_legacy_names_are_stripped_then_checked():
    assert schemas.check_legacy_name("  k1 ") == "k1"
    with pytest.raises(Invalid, match="^Keypair name must be string and between 1 and 255"):
        schemas.check_legacy_name("   ")
    with pytest.raises(Invalid, match="^Keypair name contains unsafe characters$"):
        schemas.check_legacy_name("a/b")


def test_query_parameters_appear_with_their_microversion():
    query = [("user_id", "u"), ("limit", "5"), ("marker", "m"), ("other", "x")]
    assert schemas.check_query(query, V("2.1"), index=True) == {}
    assert schemas.check_query(query, V("2.10"), index=True) == {"user_id": "u"}
    assert schemas.check_query(query, V("2.35"), index=True) == {
        "user_id": "u",
        "limit": "5",
        "marker": "m",
    }
    assert schemas.check_query(query, V("2.35"), index=False) == {"user_id": "u"}


def test_query_is_strict_from_2_75():
    with pytest.raises(Invalid, match=r"^Additional properties are not allowed \('other' was"):
        schemas.check_query([("other", "x")], V("2.75"), index=True)


def test_last_query_value_wins():
    query = [("limit", "1"), ("limit", "2")]
    assert schemas.check_query(query, V("2.35"), index=True) == {"limit": "2"}


@pytest.mark.parametrize("limit", ["-1", "1.5", "ten", ""])
def test_limit_must_be_digits(limit):
    with pytest.raises(Invalid) as raised:
        schemas.check_query([("limit", limit)], V("2.35"), index=True)
    assert f"Value: {limit}. '{limit}' does not match '^[0-9]*$'" in str(raised.value)


def test_a_huge_limit_is_capped_not_refused():
    params = schemas.check_query([("limit", "9" * 5000)], V("2.35"), index=True)
    assert params["limit"] == str(2**63 - 1)
    assert schemas.check_query([("limit", "0007")], V("2.35"), index=True) == {"limit": "0007"}


@pytest.mark.parametrize("user_id", ["nul\x00", "bell\x07", "del\x7f", "lone\udc80"])
def test_user_ids_with_control_characters_or_bad_unicode_are_refused(user_id):
    with pytest.raises(Invalid, match="may not contain control characters or invalid Unicode"):
        schemas.check_user_id(user_id)


def test_ordinary_user_ids_pass():
    schemas.check_user_id("8f0c1c0e-user")
    schemas.check_user_id("ünïcode user")
