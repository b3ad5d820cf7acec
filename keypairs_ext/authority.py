"""Project certificate authorities: create, sign, retire, and the project's KRL.

The CA private key exists in the clear only inside :meth:`Authorities.sign`
and :meth:`Authorities.create`: it is sealed under the operator's key before
it is stored, opened to sign one certificate, and never returned or logged.
"""

from __future__ import annotations

import calendar
import datetime
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from keypairs_ext.crypto import certificates, krl, sealing
from keypairs_ext.db.certificates import CertificateStore, now
from keypairs_ext.db.models import CertificateAuthority, IssuedCertificate
from keypairs_ext.exception import ServiceUnavailable

LOG = logging.getLogger(__name__)


class CertificatesMisconfigured(Exception):
    """``[certificates] enabled`` without a usable sealing key: the service must not start."""


def sealer_from_conf(group: Any) -> sealing.Sealer:
    """The operator's sealing key from ``[certificates]``; refuses to go without one."""
    if group.key_file and group.passphrase_file:
        raise CertificatesMisconfigured(
            "[certificates] key_file and passphrase_file are exclusive: set one"
        )
    if not (group.key_file or group.passphrase_file):
        raise CertificatesMisconfigured(
            "[certificates] enabled needs key_file or passphrase_file: CA private keys "
            "are never stored in the clear"
        )
    try:
        if group.key_file:
            return sealing.Sealer.from_key_file(group.key_file)
        return sealing.Sealer.from_passphrase_file(group.passphrase_file)
    except sealing.SealingError as exc:
        raise CertificatesMisconfigured(f"[certificates]: {exc}") from exc


def epoch(value: datetime.datetime) -> int:
    return calendar.timegm(value.timetuple())


class Authorities:
    def __init__(self, store: CertificateStore, sealer: sealing.Sealer, algorithm: str) -> None:
        self._store = store
        self._sealer = sealer
        self._algorithm = algorithm

    # --- CAs -------------------------------------------------------------------

    def active(self, project_id: str) -> list[CertificateAuthority]:
        """The project's CAs that are not retired, newest first (the first signs)."""
        return [ca for ca in reversed(self._store.authorities(project_id)) if ca.retired_at is None]

    def create(self, project_id: str, user_id: str, algorithm: str | None = None) -> Any:
        """A new CA for the project beside any others; None if another create won a race."""
        ca_id = str(uuid.uuid4())
        key = certificates.generate_ca_key(algorithm or self._algorithm)

        def make(generation: int) -> CertificateAuthority:
            return CertificateAuthority(
                id=ca_id,
                project_id=project_id,
                generation=generation,
                algorithm=algorithm or self._algorithm,
                public_key=certificates.public_line(key, f"project-ca-{generation}"),
                fingerprint_sha256=certificates.fingerprint_sha256(
                    certificates.public_blob(certificates.public_line(key, ""))
                ),
                sealed_private_key=self._sealer.seal(certificates.ca_private_bytes(key), ca_id),
                created_at=now(),
                created_by=user_id,
            )

        created = self._store.add_authority(make, project_id)
        if created is not None:
            LOG.info("Created SSH CA %s for project %s", created.fingerprint_sha256, project_id)
        return created

    def signing(self, project_id: str, user_id: str) -> CertificateAuthority:
        """The CA that signs for the project, created on first use."""
        for _ in range(3):
            active = self.active(project_id)
            if active:
                return active[0]
            self.create(project_id, user_id)
        raise ServiceUnavailable("The project's certificate authority could not be created.")

    def retire(self, project_id: str, ca_id: str, user_id: str) -> CertificateAuthority | None:
        retired = self._store.retire(project_id, ca_id, user_id)
        if retired is not None:
            LOG.info("Retired SSH CA %s of project %s", retired.fingerprint_sha256, project_id)
        return retired

    # --- certificates ------------------------------------------------------------

    def issue(
        self,
        ca: CertificateAuthority,
        record: IssuedCertificate,
        public_key: str,
        comment: str,
    ) -> IssuedCertificate:
        """Record and sign a certificate; the serial is the record's id."""

        def sign(serial: int) -> str:
            ca_key = self._open(ca)
            return certificates.sign(
                ca_key,
                certificates.UserCertificate(
                    public_key=public_key,
                    serial=serial,
                    key_id=record.key_id,
                    principals=list(record.principals),
                    valid_after=epoch(record.valid_after),
                    valid_before=epoch(record.valid_before),
                    extensions=list(record.extensions),
                    critical_options=dict(record.critical_options),
                ),
                comment,
            )

        return self._store.issue(record, sign)

    def _open(self, ca: CertificateAuthority) -> certificates.CAPrivateKey:
        try:
            return certificates.load_ca_private_key(self._sealer.open(ca.sealed_private_key, ca.id))
        except sealing.SealingError as exc:
            # The operator's key changed or the row was tampered with; say
            # which CA without anything secret.
            LOG.error("SSH CA %s of project %s: %s", ca.id, ca.project_id, exc)
            raise ServiceUnavailable(
                "The project's certificate authority key cannot be opened; "
                "the operator has been told."
            ) from exc

    # --- revocation --------------------------------------------------------------

    def krl(self, project_id: str) -> bytes:
        """The project's KRL: revoked serials per CA, then revoked keys and retired CAs.

        ``krl_version`` counts the revocations (each only ever adds one) and
        ``generated_date`` is the newest of them, so the list is the same
        bytes until something is revoked.
        """
        authorities = self._store.authorities(project_id)
        serials = self._store.revoked_serials(project_id)
        keys = self._store.revoked_keys(project_id)
        by_ca: dict[str, list[int]] = {}
        for ca_id, serial, _ in serials:
            by_ca.setdefault(ca_id, []).append(serial)
        retired = [ca for ca in authorities if ca.retired_at is not None]
        moments = [at for _, _, at in serials] + [k.created_at for k in keys]
        moments += [ca.retired_at for ca in retired if ca.retired_at is not None]
        return krl.build(
            version=len(moments),
            generated_at=epoch(max(moments)) if moments else 0,
            comment=f"keypairs_ext project {project_id}",
            certificates=[
                krl.CertificateRevocations(
                    certificates.public_blob(ca.public_key), serials=by_ca[ca.id]
                )
                for ca in authorities
                if ca.id in by_ca
            ],
            keys=[certificates.public_blob(k.public_key) for k in keys]
            + [certificates.public_blob(ca.public_key) for ca in retired],
        )


def trust_line(public_key: str, principals: Sequence[str]) -> str:
    """The ``authorized_keys`` line that makes sshd accept the CA's certificates."""
    return f'cert-authority,principals="{",".join(principals)}" {public_key}'
