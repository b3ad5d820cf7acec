"""List paging (2.35) and query-parameter strictness (2.75).

``limit`` and ``marker`` page the list from 2.35, capped by ``[api]
max_limit``; ``keypairs_links`` appears only on a full page and its href is
the request's own URL and query with the marker set.  From 2.75 any other
query parameter is a 400 on index, show and delete; before, it is ignored.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI

pytestmark = pytest.mark.mariadb  # the database decides names, order, quota and filters

shared_host = helpers.shared_host
api = helpers.api


NAMES = ["a", "b", "c", "d", "e"]


def with_keypairs(api: KeypairsAPI, names: list[str] = NAMES) -> KeypairsAPI:
    for name in names:
        api.create(name)
    return api


def names_of(body: dict) -> list[str]:
    return [entry["keypair"]["name"] for entry in body["keypairs"]]


def next_href(body: dict) -> str | None:
    links = body.get("keypairs_links")
    return links[0]["href"] if links else None


def follow(api: KeypairsAPI, href: str) -> dict:
    parts = urlsplit(href)
    return api.check("list_keypairs", api.request("GET", path=f"{parts.path}?{parts.query}"))


def walk(api: KeypairsAPI, query: dict[str, str]) -> list[list[str]]:
    """Every page, following the links from the first."""
    body = api.list(query)
    pages = [names_of(body)]
    while (href := next_href(body)) is not None:
        body = follow(api, href)
        pages.append(names_of(body))
    return pages


@pytest.mark.parametrize("project_in_path", [False, True], ids=["no-project", "project"])
def test_limit_and_marker_page_the_list(api: KeypairsAPI, project_in_path: bool) -> None:
    api = with_keypairs(api.at("2.35").with_project_in_path(project_in_path))
    body = api.list({"limit": "2"})
    assert names_of(body) == ["a", "b"]
    assert body["keypairs_links"] == [
        {"rel": "next", "href": f"http://localhost{api.root}/os-keypairs?limit=2&marker=b"}
    ]
    assert names_of(api.list({"limit": "2", "marker": "b"})) == ["c", "d"]
    assert names_of(api.list({"marker": "c"})) == ["d", "e"]
    assert walk(api, {"limit": "2"}) == [["a", "b"], ["c", "d"], ["e"]]


def test_links_only_on_a_full_page(api: KeypairsAPI) -> None:
    api = with_keypairs(api.at("2.35"), ["a", "b", "c"])
    assert "keypairs_links" not in api.list()
    assert "keypairs_links" not in api.list({"limit": "4"})
    assert next_href(api.list({"limit": "3"})) is not None
    # A last page that happens to be full links to an empty page, without links.
    assert walk(api, {"limit": "3"}) == [["a", "b", "c"], []]
    assert walk(api, {"limit": "1"}) == [["a"], ["b"], ["c"], []]


def test_empty_list_has_no_links(api: KeypairsAPI) -> None:
    assert api.at("2.35").list({"limit": "1"}) == {"keypairs": []}


def test_limit_zero_is_an_empty_page(api: KeypairsAPI) -> None:
    api = with_keypairs(api.at("2.35"), ["a"])
    assert api.list({"limit": "0"}) == {"keypairs": []}


def test_href_keeps_the_request_query_and_host(api: KeypairsAPI) -> None:
    api = with_keypairs(api.at("2.35"))
    admin = api.as_admin().at("2.35")
    body = admin.list(
        [("user_id", api.user), ("limit", "1"), ("marker", "a"), ("other", "kept")],
        headers={"Host": "compute.example.com:8774"},
    )
    assert names_of(body) == ["b"]
    assert next_href(body) == (
        f"http://compute.example.com:8774/v2.1/os-keypairs?user_id={api.user}&limit=1"
        "&other=kept&marker=b"
    )
    assert names_of(follow(admin, next_href(body))) == ["c"]


@pytest.mark.parametrize(
    "version, names",
    [("2.35", ["a b", "a-b", "kp", "KP"]), ("2.92", ["me@example.com", "x.y", "a b"])],
)
def test_markers_with_special_characters_round_trip(
    api: KeypairsAPI, version: str, names: list[str]
) -> None:
    api = with_keypairs(api.at(version), names)
    assert walk(api, {"limit": "1"}) == [[n] for n in sorted(names)] + [[]]


def test_unknown_marker_is_a_400(api: KeypairsAPI) -> None:
    api = with_keypairs(api.at("2.35"), ["a"])
    api.refused(
        "GET", query={"marker": "nope"}, status=400, message="Marker nope could not be found."
    )


def test_another_users_name_is_an_unknown_marker(api: KeypairsAPI) -> None:
    with_keypairs(api.at("2.35"), ["mine"])
    other = api.as_user(helpers.unique("other")).at("2.35")
    with_keypairs(other, ["theirs"])
    other.refused(
        "GET", query={"marker": "mine"}, status=400, message="Marker mine could not be found."
    )


@pytest.mark.parametrize("limit", ["abc", "-1", "1.5", "", " 1", "0x1"])
def test_invalid_limit_is_a_400(api: KeypairsAPI, limit: str) -> None:
    api.at("2.35").refused(
        "GET",
        query={"limit": limit},
        status=400,
        message="Invalid input for query parameters limit",
    )


def test_limit_is_capped_by_max_limit(make_host) -> None:
    api = with_keypairs(KeypairsAPI(make_host(api__max_limit=2).api, version="2.35"))
    for query in ({}, {"limit": "3"}, {"limit": "1000000"}):
        body = api.list(query)
        assert names_of(body) == ["a", "b"]
        assert next_href(body) is not None
    assert walk(api, {}) == [["a", "b"], ["c", "d"], ["e"]]


@pytest.mark.parametrize("version", ["2.1", "2.34"])
def test_no_paging_before_2_35(api: KeypairsAPI, version: str) -> None:
    api = with_keypairs(api.at(version))
    body = api.list({"limit": "1", "marker": "nope"})
    assert body == api.list()
    assert names_of(body) == NAMES
    assert "keypairs_links" not in body


def test_no_links_before_2_35_even_past_max_limit(make_host) -> None:
    api = with_keypairs(KeypairsAPI(make_host(api__max_limit=2).api, version="2.34"))
    body = api.list()
    assert names_of(body) == NAMES
    assert "keypairs_links" not in body


OPERATIONS = [("GET", None), ("GET", "kp"), ("DELETE", "kp")]


@pytest.mark.parametrize("method, name", OPERATIONS, ids=["index", "show", "delete"])
@pytest.mark.parametrize("version", ["2.75", "2.92"])
def test_unknown_query_parameter_is_a_400_from_2_75(
    api: KeypairsAPI, version: str, method: str, name: str | None
) -> None:
    api = with_keypairs(api.at(version), ["kp"])
    api.refused(
        method,
        name,
        query={"foo": "bar"},
        status=400,
        message="Additional properties are not allowed ('foo' was unexpected)",
    )
    assert api.names() == ["kp"]


@pytest.mark.parametrize("parameter", ["limit", "marker"])
@pytest.mark.parametrize("method", ["GET", "DELETE"], ids=["show", "delete"])
def test_paging_parameters_are_unknown_to_show_and_delete_from_2_75(
    api: KeypairsAPI, method: str, parameter: str
) -> None:
    api = with_keypairs(api.at("2.75"), ["kp"])
    api.refused(
        method, "kp", query={parameter: "1"}, status=400, message=f"('{parameter}' was unexpected)"
    )
    assert api.names() == ["kp"]


@pytest.mark.parametrize("version", ["2.1", "2.10", "2.35", "2.74"])
def test_unknown_query_parameter_is_ignored_before_2_75(api: KeypairsAPI, version: str) -> None:
    api = with_keypairs(api.at(version), ["kp"])
    assert names_of(api.list({"foo": "bar"})) == ["kp"]
    assert api.show("kp", {"foo": "bar", "limit": "x"})["name"] == "kp"
    api.delete("kp", {"foo": "bar"})
    assert api.names() == []


def test_known_parameters_still_work_at_2_75(api: KeypairsAPI) -> None:
    api = with_keypairs(api.at("2.75"), ["a", "b"])
    assert names_of(api.list({"limit": "1", "marker": "a"})) == ["b"]
    assert api.show("a", {"user_id": api.user})["name"] == "a"
    api.delete("a", {"user_id": api.user})
    assert api.names() == ["b"]
