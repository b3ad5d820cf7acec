import pytest

from keypairs_ext.host import microversion
from keypairs_ext.host.contract import Invalid, NotAcceptable, Version

MAX = Version(2, 92)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, Version(2, 1)),
        ({"OpenStack-API-Version": "compute 2.10"}, Version(2, 10)),
        ({"X-OpenStack-Nova-API-Version": "2.35"}, Version(2, 35)),
        ({"OpenStack-API-Version": "compute latest"}, MAX),
        ({"X-OpenStack-Nova-API-Version": "latest"}, MAX),
        # The standard header wins over the legacy one.
        (
            {"OpenStack-API-Version": "compute 2.2", "X-OpenStack-Nova-API-Version": "2.50"},
            Version(2, 2),
        ),
        # Another service's version is not ours.
        ({"OpenStack-API-Version": "image 2.5"}, Version(2, 1)),
        ({"OpenStack-API-Version": "keypairs 1.0, compute 2.75"}, Version(2, 75)),
    ],
)
def test_negotiates(headers, expected):
    assert microversion.negotiate(headers, MAX) == expected


@pytest.mark.parametrize("text", ["2", "2.", "two.one", "2.01", "02.1", "2.1.1", "2.-1", "2.1x"])
def test_malformed_is_invalid_with_the_format_in_the_message(text):
    with pytest.raises(Invalid) as caught:
        microversion.negotiate({"OpenStack-API-Version": f"compute {text}"}, MAX)
    assert str(caught.value) == (
        f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
    )


@pytest.mark.parametrize("text", ["2.0", "2.93", "3.0", "1.1"])
def test_out_of_range_is_not_acceptable(text):
    with pytest.raises(NotAcceptable) as caught:
        microversion.negotiate({"X-OpenStack-Nova-API-Version": text}, MAX)
    assert str(caught.value) == (
        f"Version {text} is not supported by the API. Minimum is 2.1 and maximum is 2.92."
    )


def test_maximum_follows_configuration():
    with pytest.raises(NotAcceptable, match="maximum is 2.50"):
        microversion.negotiate({"OpenStack-API-Version": "compute 2.51"}, Version(2, 50))
    assert microversion.negotiate(
        {"OpenStack-API-Version": "compute latest"}, Version(2, 50)
    ) == Version(2, 50)


def test_response_headers_echo_both_and_vary():
    assert microversion.response_headers(Version(2, 10)) == {
        "OpenStack-API-Version": "compute 2.10",
        "X-OpenStack-Nova-API-Version": "2.10",
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }


def test_contract_versions():
    low, high = Version(1, 0), Version(1, 2)
    headers = {"OpenStack-API-Version": "compute 2.92, keypairs 1.1"}
    assert microversion.negotiate_contract(headers, "keypairs", low, high) == Version(1, 1)
    assert microversion.negotiate_contract({}, "keypairs", low, high) is None
    with pytest.raises(NotAcceptable, match="Minimum is 1.0 and maximum is 1.2"):
        microversion.negotiate_contract(
            {"OpenStack-API-Version": "keypairs 1.3"}, "keypairs", low, high
        )


def test_negotiating_header_values_is_negotiating_those_headers():
    assert microversion.negotiate_values(None, None, MAX) == Version(2, 1)
    assert microversion.negotiate_values("keypairs 1.0, compute 2.75", "2.3", MAX) == Version(2, 75)
    assert microversion.negotiate_values(None, "latest", MAX) == MAX
    for _ in range(2):
        with pytest.raises(NotAcceptable, match="maximum is 2.92"):
            microversion.negotiate_values("compute 2.93", None, MAX)
        with pytest.raises(Invalid, match="2.x is of invalid format"):
            microversion.negotiate_values(None, "2.x", MAX)


def test_negotiating_every_contract_from_the_standard_header():
    contracts = (
        ("keypairs", Version(1, 0), Version(1, 2)),
        ("other", Version(1, 0), Version(1, 0)),
    )
    assert microversion.negotiate_contracts("compute 2.92, keypairs 1.1", contracts) == (
        ("keypairs", Version(1, 1)),
    )
    assert microversion.negotiate_contracts("other latest, keypairs latest", contracts) == (
        ("keypairs", Version(1, 2)),
        ("other", Version(1, 0)),
    )
    assert microversion.negotiate_contracts(None, contracts) == ()
    with pytest.raises(NotAcceptable, match="Version keypairs 1.3 is not supported"):
        microversion.negotiate_contracts("keypairs 1.3", contracts)
