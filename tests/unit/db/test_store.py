"""The keypair store on a SQLite file: uniqueness, quota and paging by the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oslo_context import context as oslo_context
from oslo_db.sqlalchemy import enginefacade

from keypairs_ext import exception
from keypairs_ext.db import api
from keypairs_ext.db.models import Base


@enginefacade.transaction_context_provider
class Context(oslo_context.RequestContext):
    pass


@pytest.fixture
def store(tmp_path: Any) -> Iterator[api.KeypairStore]:
    database = enginefacade.transaction_context()
    database.configure(connection=f"sqlite:///{tmp_path}/store.sqlite")
    engine = database.writer.get_engine()
    Base.metadata.create_all(engine)
    yield api.KeypairStore(database)
    engine.dispose()


CTX = Context(user_id="u1", project_id="p1")


def values(name: str, user_id: str = "u1") -> dict[str, Any]:
    return {
        "user_id": user_id,
        "name": name,
        "fingerprint": f"fp-{name}",
        "public_key": f"ssh-ed25519 AAAA{name}",
        "type": "ssh",
    }


def test_create_returns_every_column_and_get_reads_the_same(store):
    created = store.create(CTX, values("k1"), limit=10)
    assert isinstance(created.id, int)
    assert (created.name, created.user_id, created.type) == ("k1", "u1", "ssh")
    assert created.uuid is None and created.updated_at is None
    assert store.get(CTX, "u1", "k1") == created


def test_a_name_is_unique_per_user_only(store):
    store.create(CTX, values("k1"), limit=10)
    with pytest.raises(exception.KeypairExists, match="^Key pair 'k1' already exists.$"):
        store.create(CTX, values("k1"), limit=10)
    store.create(CTX, values("k1", user_id="u2"), limit=10)
    store.create(CTX, values("K1"), limit=10)  # names compare exactly
    assert [k.name for k in store.list(CTX, "u1")] == ["K1", "k1"]


def test_quota_counts_live_keypairs(store):
    store.create(CTX, values("a"), limit=2)
    store.create(CTX, values("b"), limit=2)
    with pytest.raises(exception.KeypairLimitExceeded):
        store.create(CTX, values("c"), limit=2)
    store.delete(CTX, "u1", "a")
    store.create(CTX, values("c"), limit=2)
    with pytest.raises(exception.KeypairLimitExceeded):
        store.create(CTX, values("d"), limit=0)
    store.create(CTX, values("d"), limit=api.UNLIMITED)
    assert [k.name for k in store.list(CTX, "u1")] == ["b", "c", "d"]


def test_a_refused_duplicate_takes_no_quota(store):
    store.create(CTX, values("a"), limit=2)
    with pytest.raises(exception.KeypairExists):
        store.create(CTX, values("a"), limit=2)
    store.create(CTX, values("b"), limit=2)


def test_list_pages_by_name_after_a_marker(store):
    for name in ("d", "b", "a", "c"):
        store.create(CTX, values(name), limit=10)
    assert [k.name for k in store.list(CTX, "u1", limit=2)] == ["a", "b"]
    assert [k.name for k in store.list(CTX, "u1", limit=2, marker="b")] == ["c", "d"]
    assert store.list(CTX, "u1", marker="d") == []
    listed = store.list(CTX, "u1", limit=1)[0]
    assert listed == api.ListedKeypair("a", "ssh-ed25519 AAAAa", "fp-a", "ssh")


def test_an_unknown_marker_is_invalid(store):
    with pytest.raises(exception.Invalid, match="^Marker nope could not be found.$"):
        store.list(CTX, "u1", marker="nope")
    with pytest.raises(exception.Invalid, match="could not be found"):
        store.list(CTX, "u1", marker="nul\x00")


def test_delete_and_get_of_what_is_not_there(store):
    with pytest.raises(exception.KeypairNotFound, match="^Keypair k1 not found for user u1$"):
        store.delete(CTX, "u1", "k1")
    store.create(CTX, values("k1"), limit=10)
    with pytest.raises(exception.KeypairNotFound):
        store.delete(CTX, "u2", "k1")
    store.delete(CTX, "u1", "k1")
    with pytest.raises(exception.KeypairNotFound):
        store.get(CTX, "u1", "k1")


@pytest.mark.parametrize("bad", ["nul\x00", "lone\udc80"])
def test_values_no_database_can_hold_find_nothing(store, bad):
    with pytest.raises(exception.KeypairNotFound):
        store.get(CTX, "u1", bad)
    with pytest.raises(exception.KeypairNotFound):
        store.delete(CTX, bad, "k1")
    assert store.list(CTX, bad) == []
