"""Quota and uniqueness, also under concurrent requests, on every backend.

``[quota] key_pairs`` per user; over it is 403 ``Quota exceeded, too many
key pairs.``.  The database decides both the quota and the name uniqueness,
so parallel creates can neither exceed the limit nor share a name.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.functional import keypairs_helpers as helpers
from tests.functional.keypairs_helpers import KeypairsAPI, expect_fault

pytestmark = pytest.mark.mariadb  # the database decides names, order, quota and filters

QUOTA_MESSAGE = "Quota exceeded, too many key pairs."


@pytest.fixture
def quota_api(make_host) -> Callable[[int], KeypairsAPI]:
    """``quota_api(n)``: a user of a host whose quota is ``n`` keypairs."""

    def build(limit: int) -> KeypairsAPI:
        return KeypairsAPI(make_host(quota__key_pairs=limit).api, version="2.10")

    return build


def over_quota(api: KeypairsAPI, name: str = "over", **fields) -> None:
    body = {"name": name, "public_key": helpers.ed25519_line(), **fields}
    expect_fault(api.post(body), 403, QUOTA_MESSAGE)


def fill(api: KeypairsAPI, count: int, prefix: str = "kp") -> list[str]:
    names = [f"{prefix}{i}" for i in range(count)]
    for name in names:
        api.create(name)
    return names


def test_over_quota_is_a_403(quota_api) -> None:
    api = quota_api(3)
    fill(api, 3)
    over_quota(api)
    expect_fault(api.post({"name": "generated"}), 403, QUOTA_MESSAGE)
    assert api.names() == ["kp0", "kp1", "kp2"]


def test_delete_frees_a_slot(quota_api) -> None:
    api = quota_api(2)
    fill(api, 2)
    api.delete("kp0")
    api.create("again")
    over_quota(api)


def test_refused_creates_use_no_quota(quota_api) -> None:
    api = quota_api(2)
    fill(api, 1)
    expect_fault(
        api.post({"name": "kp0", "public_key": helpers.ed25519_line()}),
        409,
        "Key pair 'kp0' already exists.",
    )
    expect_fault(
        api.post({"name": "bad", "public_key": "ssh-rsa AAAA"}), 400, "Keypair data is invalid"
    )
    expect_fault(api.post({"name": "bad name\n"}), 400, "name")
    api.create("second")
    over_quota(api)


def test_quota_is_per_user(quota_api) -> None:
    api = quota_api(1)
    fill(api, 1)
    other = api.as_user(helpers.unique("other"))
    other.create("kp0")
    over_quota(api)
    over_quota(other)


def test_admin_creating_for_a_user_counts_that_users_keypairs(quota_api) -> None:
    api = quota_api(2)
    admin = api.as_admin()
    fill(admin, 2, "admins")  # the admin is at its limit; the user is not
    assert admin.create("for-user", user_id=api.user)["user_id"] == api.user
    api.create("own")
    over_quota(admin, user_id=api.user)  # now the user is at its limit
    over_quota(api)
    assert api.names() == ["for-user", "own"]


def test_zero_and_unlimited(quota_api) -> None:
    over_quota(quota_api(0))
    unlimited = quota_api(-1)
    assert len(fill(unlimited, 12)) == len(unlimited.names()) == 12


def run_parallel(calls: list[Callable[[], int]]) -> collections.Counter:
    """Run the calls in as many threads, released together; count their statuses."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], int]) -> int:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return collections.Counter(pool.map(run, calls))


def status_of(api: KeypairsAPI, body: dict) -> Callable[[], int]:
    def call() -> int:
        response = api.post(body)
        if response.status_int == 409:
            expect_fault(response, 409, f"Key pair '{body['name']}' already exists.")
        elif response.status_int == 403:
            expect_fault(response, 403, QUOTA_MESSAGE)
        return response.status_int

    return call


def test_parallel_creates_of_one_name_leave_one(quota_api) -> None:
    api = quota_api(2)
    calls = [
        status_of(api, {"name": "same", "public_key": helpers.ed25519_line()}) for _ in range(20)
    ]
    assert run_parallel(calls) == {201: 1, 409: 19}
    assert api.names() == ["same"]
    # The 19 refusals took no quota: exactly one more fits.
    api.create("second")
    over_quota(api)


def test_parallel_creates_never_exceed_the_quota(quota_api) -> None:
    api = quota_api(10)
    factories = list(helpers.KEY_FACTORIES.values())
    bodies = [
        {"name": f"kp{i:02}", "public_key": factories[i % len(factories)]()} for i in range(27)
    ]
    bodies += [{"name": f"gen{i}"} for i in range(3)]  # generated, too
    assert run_parallel([status_of(api, body) for body in bodies]) == {201: 10, 403: 20}
    assert len(api.names()) == 10


def test_parallel_deletes_keep_the_count_right(quota_api) -> None:
    api = quota_api(3)
    fill(api, 3)
    statuses = run_parallel([lambda: api.request("DELETE", "kp0").status_int] * 10)
    assert statuses == {204: 1, 404: 9}
    fill(api, 1, "new")
    over_quota(api)
    assert api.names() == ["kp1", "kp2", "new0"]
