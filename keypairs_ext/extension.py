"""The Keypairs extension: identity, routes and server hooks for the host."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from keypairs_ext import authority, manage, policies
from keypairs_ext import conf as keypairs_conf
from keypairs_ext.api import extended, servers, trust
from keypairs_ext.api.certificates import CertificatesController
from keypairs_ext.api.controller import KeypairController
from keypairs_ext.db.api import KeypairStore
from keypairs_ext.db.certificates import CertificateStore
from keypairs_ext.host.contract import (
    Command,
    Extension,
    HostServices,
    Route,
    ServerEvent,
    ServerHookInput,
    Version,
)


class Keypairs(Extension):
    name = "Keypairs"
    alias = "os-keypairs"
    namespace = "http://docs.openstack.org/ext/keypairs/api/v1.1"
    updated = "2011-08-08T00:00:00+00:00"
    description = "Keypair Support"

    server_properties = ("key_name", "key_names", *trust.PROPERTIES)

    contract_name = extended.CONTRACT
    contract_min_version = extended.MIN_VERSION
    contract_max_version = extended.MAX_VERSION

    def __init__(self, services: HostServices) -> None:
        super().__init__(services)
        self.store = KeypairStore(services.database, services.autocommit)
        self.controller = KeypairController(services, self.store)
        self.certificates: CertificatesController | None = None
        authorities = None
        group = services.conf.certificates
        if group.enabled:
            # Raises (and so stops the host) without a usable sealing key.
            sealer = authority.sealer_from_conf(group)
            certificate_store = CertificateStore(services.database)
            authorities = authority.Authorities(certificate_store, sealer, group.ca_algorithm)
            self.certificates = CertificatesController(
                services, self.store, certificate_store, authorities, self.controller.parse_any
            )
        self.trust = trust.Trust(group, authorities)
        self._utc_suffix = services.conf.keypairs.expiry_time_utc_suffix

    @classmethod
    def register_opts(cls, conf: Any) -> None:
        keypairs_conf.register_opts(conf)

    @classmethod
    def list_rules(cls) -> Iterable[Any]:
        return policies.list_rules()

    @classmethod
    def commands(cls) -> list[Command]:
        return list(manage.COMMANDS)

    @classmethod
    def migrations(cls) -> str:
        return os.path.join(os.path.dirname(__file__), "db", "migrations")

    def routes(self) -> list[Route]:
        c = self.controller
        return [
            Route("GET", "/os-keypairs", c.index, xml_list_item="keypair"),
            Route("POST", "/os-keypairs", c.create),
            Route("GET", "/os-keypairs/{name}", c.show),
            Route("DELETE", "/os-keypairs/{name}", c.delete),
            # The paths of the original extension document.
            Route("GET", "/os_keypairs", c.index, legacy_only=True, xml_list_item="keypair"),
            Route("POST", "/os_keypairs/keypair", c.create, legacy_only=True),
            # The extended contract's validate-only call (keypairs 1.0).
            Route("POST", "/os-keypairs/validate", c.validate, contract=extended.CONTRACT),
            *self._certificate_routes(),
            # The lifecycle (keypairs 1.1).
            Route(
                "PUT",
                "/os-keypairs/{name}",
                c.update,
                contract=extended.CONTRACT,
                contract_min_version=extended.LIFECYCLE_VERSION,
            ),
            Route(
                "GET",
                "/os-keypairs/{name}/servers",
                c.servers,
                contract=extended.CONTRACT,
                contract_min_version=extended.LIFECYCLE_VERSION,
            ),
        ]

    def _certificate_routes(self) -> list[Route]:
        """keypairs 1.3, when ``[certificates] enabled``."""
        c = self.certificates
        if c is None:
            return []
        routes = [
            ("POST", "/os-keypairs/{name}/certificates", c.issue),
            ("GET", "/os-ssh-certificates", c.index),
            ("GET", "/os-ssh-certificates/{serial}", c.show),
            ("POST", "/os-ssh-certificates/{serial}/revoke", c.revoke),
            ("GET", "/os-ssh-certificate-authorities", c.authorities),
            ("POST", "/os-ssh-certificate-authorities", c.create_authority),
            ("GET", "/os-ssh-certificate-authorities/{ca_id}", c.authority),
            ("POST", "/os-ssh-certificate-authorities/{ca_id}/retire", c.retire_authority),
            ("GET", "/os-ssh-revoked-keys", c.revoked_keys),
            ("POST", "/os-ssh-revoked-keys", c.revoke_key),
            ("GET", "/os-ssh-krl", c.krl),
        ]
        return [
            Route(
                m,
                p,
                h,
                contract=extended.CONTRACT,
                contract_min_version=extended.CERTIFICATES_VERSION,
            )
            for m, p, h in routes
        ]

    def extension_record(self) -> dict[str, Any]:
        return {
            "contract": {
                "name": extended.CONTRACT,
                "min_version": extended.MIN_VERSION,
                "max_version": extended.MAX_VERSION,
            }
        }

    def server_create_schema(self, version: Version) -> dict[str, Any]:
        return {**servers.create_schema(version), **trust.SCHEMA}

    def server_rebuild_schema(self, version: Version) -> dict[str, Any]:
        return {**servers.rebuild_schema(version), **trust.SCHEMA}

    def on_server_create(self, hook: ServerHookInput) -> None:
        servers.on_create(self._keys(hook), hook)
        self.trust.on_create(hook)

    def on_server_rebuild(self, hook: ServerHookInput) -> None:
        before = dict(hook.contribution)
        servers.on_rebuild(self._keys(hook), hook)
        self.trust.on_rebuild(hook, before)

    def on_server_created(self, event: ServerEvent) -> None:
        servers.record_usage(self.store, event)

    def on_server_rebuilt(self, event: ServerEvent) -> None:
        servers.record_usage(self.store, event)

    def on_server_deleted(self, event: ServerEvent) -> None:
        self.store.forget_server(event.context, event.server_id)

    def _keys(self, hook: ServerHookInput) -> servers.KeyFinder:
        return servers.KeyFinder(
            self.store,
            self.services.policy,
            hook,
            self.services.conf.keypairs.max_keys_per_server,
        )

    def server_view(self, contribution: Mapping[str, Any], version: Version) -> dict:
        return servers.view(contribution)

    def server_extended_view(
        self, contribution: Mapping[str, Any], contract_version: Version
    ) -> dict:
        return servers.extended_view(contribution, contract_version)

    def server_filters(self) -> Mapping[str, Any]:
        return {"key_name": servers.matches_key_name}

    def instance_metadata(self, contribution: Mapping[str, Any]) -> dict[str, Any]:
        document = servers.instance_metadata(contribution, self._utc_suffix)
        return trust.add_to_metadata(document, trust.Trust.lines(contribution))

    def instance_files(self, contribution: Mapping[str, Any]) -> dict[str, bytes]:
        return self.trust.krl_files(contribution)

    def ec2_metadata(self, contribution: Mapping[str, Any]) -> dict[str, Any]:
        tree = servers.ec2_metadata(contribution, self._utc_suffix)
        return trust.add_to_ec2(tree, trust.Trust.lines(contribution))
