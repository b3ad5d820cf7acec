import pytest

from keypairs_ext.host.router import MethodNotAllowed, Router


@pytest.fixture
def router():
    router = Router()
    for method, template in [
        ("GET", "/v2.1/servers/{server_id}"),
        ("GET", "/v2.1/servers/detail"),
        ("GET", "/v2.1/{project_id}/servers"),
        ("POST", "/v2.1/{project_id}/servers"),
        ("GET", "/v2.1/{project_id}/servers/{server_id}"),
        ("DELETE", "/v2.1/servers/{server_id}"),
        ("GET", "/v2.1/os-keypairs/{name}"),
        ("GET", "/v2.1/{project_id}/os-keypairs/{name}"),
        ("GET", "/v2.1/{a}/{b}/c"),
        ("GET", "/v2.1/x/{b}/{c}"),
    ]:
        router.add(method, template, template)
    return router


def matched(router, method, path):
    match = router.match(method, path)
    return None if match is None else (match.entry.target, match.params)


def test_the_template_with_more_literals_wins(router):
    assert matched(router, "GET", "/v2.1/servers/detail") == ("/v2.1/servers/detail", {})
    assert matched(router, "GET", "/v2.1/servers/s1") == (
        "/v2.1/servers/{server_id}",
        {"server_id": "s1"},
    )
    assert matched(router, "GET", "/v2.1/p1/servers/s1") == (
        "/v2.1/{project_id}/servers/{server_id}",
        {"project_id": "p1", "server_id": "s1"},
    )
    # /v2.1/os-keypairs/{name} has two literals, /v2.1/{project_id}/os-keypairs one
    assert matched(router, "GET", "/v2.1/os-keypairs/os-keypairs")[0] == (
        "/v2.1/os-keypairs/{name}"
    )


def test_between_equally_literal_templates_the_first_declared_wins(router):
    assert matched(router, "GET", "/v2.1/x/y/c") == ("/v2.1/{a}/{b}/c", {"a": "x", "b": "y"})


def test_a_parameter_is_never_empty_and_slashes_at_the_ends_do_not_count(router):
    assert matched(router, "GET", "/v2.1//servers/s1") is None
    assert matched(router, "GET", "/v2.1/p1/servers//") == (
        "/v2.1/{project_id}/servers",
        {"project_id": "p1"},
    )
    assert matched(router, "GET", "v2.1/os-keypairs/k/")[1] == {"name": "k"}
    assert matched(router, "GET", "/") is None


def test_another_method_on_a_matching_template_is_405_with_every_allowed_method(router):
    with pytest.raises(MethodNotAllowed) as caught:
        router.match("PUT", "/v2.1/servers/s1")
    assert caught.value.allowed == ["DELETE", "GET"]
    assert matched(router, "DELETE", "/v2.1/servers/s1")[0] == "/v2.1/servers/{server_id}"


def test_a_route_declared_twice_is_refused(router):
    with pytest.raises(ValueError, match="declared twice"):
        router.add("GET", "/v2.1/servers/detail", None)
