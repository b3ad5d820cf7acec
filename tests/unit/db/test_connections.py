"""The store's retry policy: a dropped connection once, a deadlock a few times."""

from __future__ import annotations

import pytest
from oslo_db import exception as db_exc

from keypairs_ext.db import connections


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    @connections.retried
    def work() -> str:
        calls.append(len(calls))
        if len(calls) <= times:
            raise error
        return "done"

    return calls, work


def test_a_dropped_connection_is_retried_once_at_once() -> None:
    calls, work = failing(1, db_exc.DBConnectionError(Exception("gone")))
    assert work() == "done"  # type: ignore[operator]
    assert len(calls) == 2


def test_a_database_that_stays_away_fails_on_the_second_try() -> None:
    calls, work = failing(5, db_exc.DBConnectionError(Exception("gone")))
    with pytest.raises(db_exc.DBConnectionError):
        work()  # type: ignore[operator]
    assert len(calls) == 2


def test_deadlocks_are_retried_up_to_the_bound() -> None:
    calls, work = failing(connections.DEADLOCK_RETRIES, db_exc.DBDeadlock(Exception("1213")))
    assert work() == "done"  # type: ignore[operator]
    assert len(calls) == connections.DEADLOCK_RETRIES + 1


def test_a_deadlock_past_the_bound_reaches_the_caller() -> None:
    calls, work = failing(connections.DEADLOCK_RETRIES + 1, db_exc.DBDeadlock(Exception("1213")))
    with pytest.raises(db_exc.DBDeadlock):
        work()  # type: ignore[operator]
    assert len(calls) == connections.DEADLOCK_RETRIES + 1


def test_other_errors_are_not_retried() -> None:
    calls, work = failing(1, db_exc.DBDuplicateEntry())
    with pytest.raises(db_exc.DBDuplicateEntry):
        work()  # type: ignore[operator]
    assert len(calls) == 1
