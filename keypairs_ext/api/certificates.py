"""SSH certificates in the extended contract (``keypairs 1.3``).

* ``POST /os-keypairs/{name}/certificates``: a user certificate for a keypair;
* ``GET /os-ssh-certificates[/{serial}]``, ``POST .../{serial}/revoke``;
* ``GET|POST /os-ssh-certificate-authorities``, ``GET .../{id}``,
  ``POST .../{id}/retire``: the project's CAs (public keys only);
* ``GET|POST /os-ssh-revoked-keys``: keys revoked with all their certificates;
* ``GET /os-ssh-krl``: the project's Key Revocation List (binary).

The routes are mounted only when ``[certificates] enabled``, for requests at
keypairs 1.3 or later (``Route.contract_min_version``; absent below).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from typing import Any

from keypairs_ext import exception, notifications
from keypairs_ext import notification_payloads as payloads
from keypairs_ext.api import lifecycle, views
from keypairs_ext.authority import Authorities, epoch
from keypairs_ext.crypto import certificates
from keypairs_ext.db.api import KeypairStore
from keypairs_ext.db.certificates import CertificateStore, now
from keypairs_ext.db.models import CertificateAuthority, IssuedCertificate, RevokedKey
from keypairs_ext.host.contract import ApiRequest, ApiResponse, HostServices, RawBody
from keypairs_ext.policies import AUTHORITIES, CERTIFICATES, REVOKED_KEYS, SHARED

LOG = logging.getLogger(__name__)

#: a principal is a login name: it goes into sshd's principals="..." option,
#: so no quote, comma or whitespace
PRINCIPAL = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,254}$"}
PRINCIPALS = {
    "type": "array",
    "items": PRINCIPAL,
    "minItems": 1,
    "maxItems": 32,
    "uniqueItems": True,
}

ISSUE = {
    "type": "object",
    "properties": {
        "certificate": {
            "type": "object",
            "properties": {
                "principals": PRINCIPALS,
                "valid_for": {"type": "integer", "minimum": 1},
                "extensions": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(certificates.STANDARD_EXTENSIONS)},
                    "uniqueItems": True,
                },
                "source_address": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1, "maxLength": 64},
                    "minItems": 1,
                    "maxItems": 16,
                },
            },
            "required": ["principals"],
            "additionalProperties": False,
        }
    },
    "required": ["certificate"],
    "additionalProperties": False,
}

CREATE_CA = {
    "type": "object",
    "properties": {
        "certificate_authority": {
            "type": "object",
            "properties": {
                "algorithm": {"type": "string", "enum": list(certificates.CA_ALGORITHMS)},
            },
            "additionalProperties": False,
        }
    },
    "required": ["certificate_authority"],
    "additionalProperties": False,
}

REVOKE_KEY = {
    "type": "object",
    "properties": {
        "revoked_key": {
            "type": "object",
            "properties": {
                "keypair_name": {"type": "string", "minLength": 1, "maxLength": 255},
                "public_key": {"type": "string", "minLength": 1, "maxLength": 16384},
                "reason": {"type": "string", "maxLength": 255},
            },
            "oneOf": [{"required": ["keypair_name"]}, {"required": ["public_key"]}],
            "additionalProperties": False,
        }
    },
    "required": ["revoked_key"],
    "additionalProperties": False,
}

EMPTY_OR_NONE = {"type": ["object", "null"], "additionalProperties": False}

LIST_PARAMS = ("limit", "marker", "keypair_name")


def _instant(value: datetime.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def authority_view(ca: CertificateAuthority, signing: bool) -> dict[str, Any]:
    return {
        "id": ca.id,
        "generation": ca.generation,
        "algorithm": ca.algorithm,
        "public_key": ca.public_key,
        "fingerprint_sha256": ca.fingerprint_sha256,
        "status": "retired" if ca.retired_at else "active",
        "signing": signing,
        "created_at": views.timestamp(ca.created_at),
        "retired_at": views.timestamp(ca.retired_at),
    }


def certificate_view(row: IssuedCertificate, ca: CertificateAuthority | None) -> dict[str, Any]:
    return {
        "serial": row.serial,
        "certificate": row.certificate,
        "key_id": row.key_id,
        "keypair_name": row.keypair_name,
        "user_id": row.keypair_user_id,
        "requested_by": row.requested_by,
        "fingerprint_sha256": row.key_fingerprint_sha256,
        "principals": list(row.principals),
        "extensions": list(row.extensions),
        "critical_options": dict(row.critical_options),
        "valid_after": _instant(row.valid_after),
        "valid_before": _instant(row.valid_before),
        "ca_id": row.ca_id,
        "ca_fingerprint_sha256": ca.fingerprint_sha256 if ca else None,
        "created_at": views.timestamp(row.created_at),
        "revoked": row.revoked_at is not None,
        "revoked_at": views.timestamp(row.revoked_at),
    }


def revoked_key_view(row: RevokedKey) -> dict[str, Any]:
    return {
        "fingerprint_sha256": row.fingerprint_sha256,
        "public_key": row.public_key,
        "reason": row.reason,
        "created_at": views.timestamp(row.created_at),
        "created_by": row.created_by,
    }


def key_id(user_id: str, project_id: str, keypair_name: str) -> str:
    """The certificate's key ID: sshd logs it beside every login made with it."""
    return f"user={user_id} project={project_id} keypair={keypair_name}"


class CertificatesController:
    def __init__(
        self,
        services: HostServices,
        keypairs: KeypairStore,
        store: CertificateStore,
        authorities: Authorities,
        parse_public_key: Any,
    ) -> None:
        self._services = services
        self._conf = services.conf.certificates
        self._keypairs = keypairs
        self._store = store
        self._authorities = authorities
        self._parse_public_key = parse_public_key
        self._events = notifications.KeypairEvents(
            services.notifier, services.conf.keypairs.extended_notifications
        )

    def _authority_event(self, context: Any, action: str, ca: CertificateAuthority) -> None:
        self._events.extended(
            context,
            f"ssh_certificate_authority.{action}",
            "SSHCertificateAuthorityPayload",
            payloads.ssh_certificate_authority(ca),
        )

    # --- helpers ------------------------------------------------------------

    def _authorize(self, request: ApiRequest, rule: str, **target: Any) -> None:
        target.setdefault("project_id", request.context.project_id)
        self._services.policy.authorize(rule, target, request.context, do_raise=True)

    def _allowed(self, request: ApiRequest, rule: str, **target: Any) -> bool:
        target.setdefault("project_id", request.context.project_id)
        return bool(self._services.policy.authorize(rule, target, request.context, do_raise=False))

    def _own_or_shared(self, request: ApiRequest) -> Any:
        """The caller's keypair of the route's name, else the key of that name
        shared with the caller's project, for those who may boot with it."""
        context = request.context
        name = request.path_params["name"]
        try:
            return self._keypairs.get(context, context.user_id, name)
        except exception.KeypairNotFound:
            try:
                keypair = self._keypairs.get_shared(context, context.project_id, name)
            except exception.SharedKeypairNotFound:
                raise exception.KeypairNotFound(name, context.user_id) from None
        self._authorize(request, SHARED % "use", user_id=keypair.user_id)
        return keypair

    def _ca_fingerprints(self, project_id: str) -> dict[str, CertificateAuthority]:
        return {ca.id: ca for ca in self._store.authorities(project_id)}

    # --- certificates -------------------------------------------------------

    def issue(self, request: ApiRequest) -> ApiResponse:
        self._services.validate(ISSUE, request.body)
        body = request.body["certificate"]
        context = request.context
        keypair = self._own_or_shared(request)
        self._authorize(request, CERTIFICATES % "create", user_id=context.user_id)
        principals = body["principals"]
        outside = [p for p in principals if p not in self._conf.allowed_principals]
        if outside and not self._allowed(request, CERTIFICATES % "any_principal"):
            raise exception.Forbidden(
                f"Principal(s) {', '.join(outside)} may not be asked for here; this cloud "
                f"allows {', '.join(self._conf.allowed_principals)}."
            )
        valid_for = body.get("valid_for", self._conf.default_validity)
        if valid_for > self._conf.max_validity:
            raise exception.Invalid(
                f"valid_for {valid_for} is longer than this cloud's maximum of "
                f"{self._conf.max_validity} seconds."
            )
        extensions = body.get("extensions", self._conf.default_extensions)
        refused = [e for e in extensions if e not in self._conf.allowed_extensions]
        if refused:
            raise exception.Invalid(
                f"Extension(s) {', '.join(refused)} may not be asked for here; this cloud "
                f"allows {', '.join(self._conf.allowed_extensions)}."
            )
        critical: dict[str, str] = {}
        if "source_address" in body:
            critical["source-address"] = ",".join(_networks(body["source_address"]))
        if keypair.type != "ssh":
            raise exception.Invalid("Certificates are issued for SSH key pairs only, not x509.")
        label = keypair.public_key.split(None, 1)[0]
        if label not in certificates.CERTIFIABLE_TYPES:
            raise exception.Invalid(
                f"Certificates cannot be issued for {label} keys; certifiable types are "
                f"{', '.join(certificates.CERTIFIABLE_TYPES)}."
            )
        issued_at = now().replace(microsecond=0)
        _check_key_lifetime(keypair, issued_at + datetime.timedelta(seconds=valid_for))
        # The first certificate of a project creates its CA: say so too.
        had_ca = not self._events.extended_on or bool(self._authorities.active(context.project_id))
        ca = self._authorities.signing(context.project_id, context.user_id)
        if not had_ca:
            self._authority_event(context, "create", ca)
        record = IssuedCertificate(
            ca_id=ca.id,
            project_id=context.project_id,
            requested_by=context.user_id,
            keypair_user_id=keypair.user_id,
            keypair_name=keypair.name,
            key_fingerprint_sha256=keypair.fingerprint_sha256
            or certificates.fingerprint_sha256(certificates.public_blob(keypair.public_key)),
            key_id=key_id(keypair.user_id, context.project_id, keypair.name),
            principals=list(principals),
            extensions=sorted(extensions),
            critical_options=critical,
            valid_after=issued_at - datetime.timedelta(seconds=self._conf.clock_skew),
            valid_before=issued_at + datetime.timedelta(seconds=valid_for),
            created_at=now(),
        )
        issued = self._authorities.issue(ca, record, keypair.public_key, keypair.name)
        LOG.info(
            "Issued SSH certificate serial %s for keypair %s of user %s (principals %s, "
            "until %s) to %s",
            issued.serial,
            keypair.name,
            keypair.user_id,
            ",".join(principals),
            _instant(issued.valid_before),
            context.user_id,
        )
        self._events.extended(
            context,
            "ssh_certificate.issue",
            "SSHCertificatePayload",
            payloads.ssh_certificate(issued, ca),
        )
        return ApiResponse(201, {"certificate": certificate_view(issued, ca)})

    def index(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, CERTIFICATES % "index")
        params: dict[str, str] = {}
        for name, value in request.query:
            if name not in LIST_PARAMS:
                raise exception.Invalid(
                    f"Additional properties are not allowed ('{name}' was unexpected)"
                )
            params[name] = value
        max_limit = self._services.max_limit
        limit = min(_number(params, "limit", max_limit), max_limit)
        marker = _number(params, "marker", None) if "marker" in params else None
        rows = self._store.certificates(
            request.context.project_id, params.get("keypair_name"), limit, marker
        )
        cas = self._ca_fingerprints(request.context.project_id)
        body: dict[str, Any] = {
            "certificates": [certificate_view(r, cas.get(r.ca_id)) for r in rows]
        }
        if rows and len(rows) == limit:
            body["certificates_links"] = [
                {"rel": "next", "href": views.next_href(request, str(rows[-1].serial))}
            ]
        return ApiResponse(200, body)

    def _certificate(self, request: ApiRequest) -> IssuedCertificate:
        serial = request.path_params["serial"]
        row = (
            self._store.certificate(request.context.project_id, int(serial))
            if serial.isdigit() and len(serial) < 20
            else None
        )
        if row is None:
            raise exception.NotFound(f"Certificate {serial} could not be found.")
        return row

    def show(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, CERTIFICATES % "show")
        row = self._certificate(request)
        ca = self._store.authority(request.context.project_id, row.ca_id)
        return ApiResponse(200, {"certificate": certificate_view(row, ca)})

    def revoke(self, request: ApiRequest) -> ApiResponse:
        self._services.validate(EMPTY_OR_NONE, request.body)
        context = request.context
        found = self._certificate(request)

        def allowed(row: IssuedCertificate) -> None:
            # The key pair's owner, or who asked for the certificate.
            if not self._allowed(request, CERTIFICATES % "revoke", user_id=row.requested_by):
                self._authorize(request, CERTIFICATES % "revoke", user_id=row.keypair_user_id)

        row = self._store.revoke_certificate(
            context.project_id, found.serial, context.user_id, allowed
        )
        if row is None:
            raise exception.NotFound(f"Certificate {found.serial} could not be found.")
        LOG.info("Revoked SSH certificate serial %s of project %s", row.serial, context.project_id)
        ca = self._store.authority(context.project_id, row.ca_id)
        self._events.extended(
            context,
            "ssh_certificate.revoke",
            "SSHCertificatePayload",
            payloads.ssh_certificate(row, ca),
        )
        return ApiResponse(200, {"certificate": certificate_view(row, ca)})

    # --- CAs ----------------------------------------------------------------

    def authorities(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, AUTHORITIES % "index")
        if request.query:
            raise exception.Invalid(
                f"Additional properties are not allowed ('{request.query[0][0]}' was unexpected)"
            )
        project_id = request.context.project_id
        signing = self._authorities.active(project_id)
        return ApiResponse(
            200,
            {
                "certificate_authorities": [
                    authority_view(ca, bool(signing) and ca.id == signing[0].id)
                    for ca in self._store.authorities(project_id)
                ]
            },
        )

    def authority(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, AUTHORITIES % "show")
        ca = self._authority(request)
        signing = self._authorities.active(request.context.project_id)
        view = authority_view(ca, bool(signing) and ca.id == signing[0].id)
        return ApiResponse(200, {"certificate_authority": view})

    def _authority(self, request: ApiRequest) -> CertificateAuthority:
        ca_id = request.path_params["ca_id"]
        ca = self._store.authority(request.context.project_id, ca_id)
        if ca is None:
            raise exception.NotFound(f"Certificate authority {ca_id} could not be found.")
        return ca

    def create_authority(self, request: ApiRequest) -> ApiResponse:
        self._services.validate(CREATE_CA, request.body)
        self._authorize(request, AUTHORITIES % "create")
        context = request.context
        algorithm = request.body["certificate_authority"].get("algorithm")
        ca = self._authorities.create(context.project_id, context.user_id, algorithm)
        if ca is None:
            raise exception.Conflict(
                "Another certificate authority was being created for this project at the "
                "same time; list them and try again if you still need a new one."
            )
        self._authority_event(context, "create", ca)
        return ApiResponse(201, {"certificate_authority": authority_view(ca, True)})

    def retire_authority(self, request: ApiRequest) -> ApiResponse:
        self._services.validate(EMPTY_OR_NONE, request.body)
        self._authorize(request, AUTHORITIES % "retire")
        self._authority(request)
        context = request.context
        ca = self._authorities.retire(
            context.project_id, request.path_params["ca_id"], context.user_id
        )
        if ca is None:
            raise exception.NotFound(
                f"Certificate authority {request.path_params['ca_id']} could not be found."
            )
        self._authority_event(context, "retire", ca)
        return ApiResponse(200, {"certificate_authority": authority_view(ca, False)})

    # --- revocation ---------------------------------------------------------

    def revoked_keys(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, REVOKED_KEYS % "index")
        if request.query:
            raise exception.Invalid(
                f"Additional properties are not allowed ('{request.query[0][0]}' was unexpected)"
            )
        rows = self._store.revoked_keys(request.context.project_id)
        return ApiResponse(200, {"revoked_keys": [revoked_key_view(r) for r in rows]})

    def revoke_key(self, request: ApiRequest) -> ApiResponse:
        self._services.validate(REVOKE_KEY, request.body)
        body = request.body["revoked_key"]
        context = request.context
        if "keypair_name" in body:
            keypair = self._keypairs.get(context, context.user_id, body["keypair_name"])
            if keypair.type != "ssh":
                raise exception.Invalid("Only SSH keys can be revoked in a KRL, not x509.")
            self._authorize(request, REVOKED_KEYS % "create", user_id=keypair.user_id)
            public_line = keypair.public_key
        else:
            # Anyone's key: only who may act for every user of the project.
            self._authorize(request, REVOKED_KEYS % "create", user_id=None)
            public_line = self._parse_public_key(body["public_key"]).openssh_line
        blob = certificates.public_blob(public_line)
        fields = public_line.split()
        row, created = self._store.revoke_key(
            RevokedKey(
                project_id=context.project_id,
                fingerprint_sha256=certificates.fingerprint_sha256(blob),
                public_key=f"{fields[0]} {fields[1]}",
                reason=body.get("reason"),
                created_at=now(),
                created_by=context.user_id,
            )
        )
        LOG.info("Revoked SSH key %s in project %s", row.fingerprint_sha256, context.project_id)
        if created:
            self._events.extended(
                context, "ssh_key.revoke", "SSHRevokedKeyPayload", payloads.ssh_revoked_key(row)
            )
        return ApiResponse(201 if created else 200, {"revoked_key": revoked_key_view(row)})

    def krl(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, REVOKED_KEYS % "krl")
        if request.query:
            raise exception.Invalid(
                f"Additional properties are not allowed ('{request.query[0][0]}' was unexpected)"
            )
        data = self._authorities.krl(request.context.project_id)
        return ApiResponse(200, RawBody(data, "application/octet-stream"))


def _check_key_lifetime(keypair: Any, valid_before: datetime.datetime) -> None:
    """A certificate never outlives its key pair's expiry (keypairs 1.1)."""
    expires_at = getattr(keypair, "expires_at", None)
    if expires_at is None:
        return
    if lifecycle.is_expired(expires_at):
        raise exception.Invalid(
            f"Key pair '{keypair.name}' expired at {lifecycle.timestamp(expires_at)} "
            "and cannot be certified."
        )
    if valid_before > expires_at:
        raise exception.Invalid(
            f"Key pair '{keypair.name}' expires at {lifecycle.timestamp(expires_at)}, "
            "before the certificate would; ask for a shorter valid_for."
        )


def _number(params: dict[str, str], name: str, default: Any) -> Any:
    if name not in params:
        return default
    value = params[name]
    if not value.isdigit() or len(value) > 19:
        raise exception.Invalid(f"Invalid input for query parameters {name}. Value: {value}.")
    return int(value)


def _networks(values: list[str]) -> list[str]:
    """source-address values: CIDR addresses or networks, as sshd reads them."""
    found = []
    for value in values:
        try:
            found.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError as exc:
            raise exception.Invalid(
                f"Invalid input for field/attribute source_address. Value: {value}. "
                "Expected an IP address or network in CIDR form."
            ) from exc
    return found


__all__ = ["CertificatesController", "epoch"]
