"""The keypair store's row types follow the table."""

from __future__ import annotations

from keypairs_ext.db import api
from keypairs_ext.db.models import KeyPair


def test_a_created_keypair_has_every_column_of_the_table() -> None:
    assert list(api.StoredKeypair._fields) == [c.name for c in KeyPair.__table__.columns]


def test_a_listed_keypair_has_what_the_list_view_shows() -> None:
    assert set(api.ListedKeypair._fields) <= {c.name for c in KeyPair.__table__.columns}
