"""os-keypairs response bodies per microversion, from plain records."""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

from keypairs_ext.api import views
from keypairs_ext.host.contract import ApiRequest, Version

V = Version.parse
CREATED = datetime.datetime(2026, 1, 2, 3, 4, 5, 600007)


def record(name: str = "k1", **extra):
    values = {
        "id": 7,
        "name": name,
        "user_id": "u1",
        "public_key": "ssh-ed25519 AAAA me@host",
        "fingerprint": "aa:bb",
        "type": "ssh",
        "created_at": CREATED,
        "updated_at": None,
    }
    return SimpleNamespace(**{**values, **extra})


def request(version: str = "2.35", legacy: bool = False, query=()) -> ApiRequest:
    query = list(query)
    return ApiRequest(
        context=None,
        version=V(version),
        legacy=legacy,
        path_params={},
        query=query,
        body=None,
        url="http://api/v2.1/os-keypairs",
        query_string="&".join(f"{k}={v}" for k, v in query),
    )


SUMMARY = {"name": "k1", "public_key": "ssh-ed25519 AAAA me@host", "fingerprint": "aa:bb"}


def test_type_is_shown_from_2_2_and_never_on_legacy():
    assert views.summary(record(), V("2.1"), False) == SUMMARY
    assert views.summary(record(), V("2.2"), False) == {**SUMMARY, "type": "ssh"}
    assert views.summary(record(), V("2.92"), True) == SUMMARY


def test_created_adds_the_owner_and_a_generated_private_key_only():
    assert views.created(record(), V("2.2"), False, None) == {
        "keypair": {**SUMMARY, "type": "ssh", "user_id": "u1"}
    }
    generated = views.created(record(), V("2.1"), False, "PRIVATE")
    assert generated == {"keypair": {**SUMMARY, "user_id": "u1", "private_key": "PRIVATE"}}


def test_shown_has_the_record_fields_with_microsecond_timestamps():
    assert views.shown(record(), V("2.2"), False) == {
        "keypair": {
            **SUMMARY,
            "type": "ssh",
            "user_id": "u1",
            "id": 7,
            "created_at": "2026-01-02T03:04:05.600007",
            "updated_at": None,
            "deleted": False,
            "deleted_at": None,
        }
    }
    updated = record(updated_at=CREATED)
    assert views.shown(updated, V("2.1"), False)["keypair"]["updated_at"] == (
        "2026-01-02T03:04:05.600007"
    )
    # A whole second still shows its six digits of microseconds.
    whole = record(created_at=datetime.datetime(2026, 1, 2, 3, 4, 5))
    assert views.shown(whole, V("2.1"), False)["keypair"]["created_at"] == (
        "2026-01-02T03:04:05.000000"
    )


def test_list_items_match_the_summary_at_each_version():
    rows = [record("a"), record("b")]
    for version, legacy in (("2.1", False), ("2.2", False), ("2.35", True)):
        body = views.listed(request(version, legacy), rows, None)
        assert body == {
            "keypairs": [{"keypair": views.summary(row, V(version), legacy)} for row in rows]
        }


def test_a_full_page_links_to_the_next_one_after_its_last_name():
    rows = [record("a"), record("b")]
    body = views.listed(
        request(query=[("limit", "2"), ("marker", "0"), ("user_id", "u1")]), rows, 2
    )
    (link,) = body["keypairs_links"]
    assert link["rel"] == "next"
    href = urlsplit(link["href"])
    assert href.path == "/v2.1/os-keypairs"
    assert parse_qsl(href.query) == [("limit", "2"), ("user_id", "u1"), ("marker", "b")]


def test_a_short_or_unpaged_list_has_no_next_link():
    rows = [record("a")]
    assert "keypairs_links" not in views.listed(request(), rows, 2)
    assert "keypairs_links" not in views.listed(request(), rows, None)
    assert views.listed(request(), [], 0) == {"keypairs": []}


def test_next_href_quotes_the_marker():
    href = views.next_href(request(query=[("limit", "1")]), "me@host one")
    assert href == "http://api/v2.1/os-keypairs?limit=1&marker=me%40host+one"
