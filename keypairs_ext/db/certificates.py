"""Queries of SSH certificates: project CAs, issuance records, revoked keys.

Nothing here is on a hot path, so it uses ORM sessions on the host's engine
directly (the metadata service reads it too, with no request context).  The
database decides the races: a project's first CA is one generation under a
unique constraint, and a serial is an issuance row's primary key.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from keypairs_ext.db.models import CertificateAuthority, IssuedCertificate, RevokedKey
from keypairs_ext.host.contract import storable

T = TypeVar("T")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class CertificateStore:
    def __init__(self, database: Any) -> None:
        self._database = database

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[orm.Session]:
        facade = self._database.writer if write else self._database.reader
        with orm.Session(facade.get_engine(), expire_on_commit=False) as session:
            if write:
                with session.begin():
                    yield session
            else:
                yield session

    # --- CAs -------------------------------------------------------------------

    def authorities(self, project_id: str) -> list[CertificateAuthority]:
        """Every CA of the project, oldest first (retired ones too)."""
        if not storable(project_id):
            return []
        with self._session() as session:
            query = (
                sa.select(CertificateAuthority)
                .where(CertificateAuthority.project_id == project_id)
                .order_by(CertificateAuthority.generation)
            )
            return list(session.scalars(query))

    def authority(self, project_id: str, ca_id: str) -> CertificateAuthority | None:
        if not (storable(project_id) and storable(ca_id)):
            return None
        with self._session() as session:
            found = session.get(CertificateAuthority, ca_id)
            return found if found is not None and found.project_id == project_id else None

    def add_authority(self, make: Callable[[int], CertificateAuthority], project_id: str) -> Any:
        """Insert ``make(generation)`` as the project's next CA; None if a racer won."""
        try:
            with self._session(write=True) as session:
                newest = session.scalar(
                    sa.select(sa.func.max(CertificateAuthority.generation)).where(
                        CertificateAuthority.project_id == project_id
                    )
                )
                row = make((newest or 0) + 1)
                session.add(row)
                return row
        except db_exc.DBDuplicateEntry:
            return None

    def retire(self, project_id: str, ca_id: str, user_id: str) -> CertificateAuthority | None:
        with self._session(write=True) as session:
            row = session.get(CertificateAuthority, ca_id, with_for_update=True)
            if row is None or row.project_id != project_id:
                return None
            if row.retired_at is None:
                row.retired_at = now()
                row.retired_by = user_id
            return row

    # --- issuance --------------------------------------------------------------

    def issue(self, row: IssuedCertificate, sign: Callable[[int], str]) -> IssuedCertificate:
        """Record an issuance and sign it under its serial, in one transaction."""
        with self._session(write=True) as session:
            session.add(row)
            session.flush()  # the serial
            row.certificate = sign(row.serial)
            return row

    def certificates(
        self, project_id: str, keypair_name: str | None, limit: int, marker: int | None
    ) -> list[IssuedCertificate]:
        """The project's issuances by serial, optionally of one keypair name."""
        if not storable(project_id) or (keypair_name is not None and not storable(keypair_name)):
            return []
        query = sa.select(IssuedCertificate).where(IssuedCertificate.project_id == project_id)
        if keypair_name is not None:
            query = query.where(IssuedCertificate.keypair_name == keypair_name)
        if marker is not None:
            query = query.where(IssuedCertificate.serial > marker)
        query = query.order_by(IssuedCertificate.serial).limit(limit)
        with self._session() as session:
            return list(session.scalars(query))

    def certificate(self, project_id: str, serial: int) -> IssuedCertificate | None:
        with self._session() as session:
            found = session.get(IssuedCertificate, serial)
            return found if found is not None and found.project_id == project_id else None

    def revoke_certificate(
        self,
        project_id: str,
        serial: int,
        user_id: str,
        allowed: Callable[[IssuedCertificate], None],
    ) -> IssuedCertificate | None:
        """Mark a certificate revoked (once); ``allowed`` raises to refuse."""
        with self._session(write=True) as session:
            row = session.get(IssuedCertificate, serial, with_for_update=True)
            if row is None or row.project_id != project_id:
                return None
            allowed(row)
            if row.revoked_at is None:
                row.revoked_at = now()
                row.revoked_by = user_id
            return row

    # --- revoked keys ----------------------------------------------------------

    def revoke_key(self, row: RevokedKey) -> tuple[RevokedKey, bool]:
        """Add a revoked key; (the row, True) or, when already there, (it, False)."""
        try:
            with self._session(write=True) as session:
                session.add(row)
            return row, True
        except db_exc.DBDuplicateEntry:
            with self._session() as session:
                existing = session.scalars(
                    sa.select(RevokedKey).where(
                        RevokedKey.project_id == row.project_id,
                        RevokedKey.fingerprint_sha256 == row.fingerprint_sha256,
                    )
                ).one()
            return existing, False

    def revoked_keys(self, project_id: str) -> list[RevokedKey]:
        if not storable(project_id):
            return []
        with self._session() as session:
            query = (
                sa.select(RevokedKey)
                .where(RevokedKey.project_id == project_id)
                .order_by(RevokedKey.id)
            )
            return list(session.scalars(query))

    def revoked_serials(self, project_id: str) -> list[tuple[str, int, datetime.datetime]]:
        """(CA id, serial, revoked at) of the project's revoked certificates."""
        if not storable(project_id):
            return []
        query = sa.select(
            IssuedCertificate.ca_id, IssuedCertificate.serial, IssuedCertificate.revoked_at
        ).where(
            IssuedCertificate.project_id == project_id, IssuedCertificate.revoked_at.is_not(None)
        )
        with self._session() as session:
            return [(r.ca_id, r.serial, r.revoked_at) for r in session.execute(query)]
