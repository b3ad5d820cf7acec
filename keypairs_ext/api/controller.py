"""The os-keypairs resource: list, create (import or generate), show, delete."""

from __future__ import annotations

import logging
from typing import Any

from keypairs_ext import crypto, exception
from keypairs_ext.api import schemas, views
from keypairs_ext.db.api import KeypairStore
from keypairs_ext.host.contract import ApiRequest, ApiResponse, HostServices
from keypairs_ext.policies import BASE

LOG = logging.getLogger(__name__)

class KeypairController:
    def __init__(self, services: HostServices, store: KeypairStore) -> None:
        self._services = services
        self._conf = services.conf
        self._store = store
        self._validate = services.validate
        self._allowed_algorithms = _algorithms_for_labels(self._conf.keypairs.allowed_types)

    # --- helpers ------------------------------------------------------------

    def _authorize(self, request: ApiRequest, action: str, user_id: str) -> None:
        self._services.policy.authorize(
            BASE % action, {"user_id": user_id}, request.context, do_raise=True
        )

    def _target_user(self, request: ApiRequest, requested: str | None) -> str:
        if requested and not request.legacy and request.version.matches("2.10"):
            schemas.check_user_id(requested)
            return requested
        return request.context.user_id

    # --- operations ---------------------------------------------------------

    def index(self, request: ApiRequest) -> ApiResponse:
        params = schemas.check_query(request.query, request.version, index=True)
        user_id = self._target_user(request, params.get("user_id"))
        self._authorize(request, "index", user_id)
        page_limit = None
        marker = None
        if not request.legacy and request.version.matches("2.35"):
            max_limit = self._services.max_limit
            page_limit = min(int(params.get("limit", max_limit)), max_limit)
            marker = params.get("marker")
        keypairs = self._store.list(request.context, user_id, page_limit, marker)
        return ApiResponse(200, views.listed(request, keypairs, page_limit))

    def show(self, request: ApiRequest) -> ApiResponse:
        params = schemas.check_query(request.query, request.version, index=False)
        user_id = self._target_user(request, params.get("user_id"))
        self._authorize(request, "show", user_id)
        keypair = self._store.get(request.context, user_id, request.path_params["name"])
        return ApiResponse(200, views.shown(keypair, request.version, request.legacy))

    def delete(self, request: ApiRequest) -> ApiResponse:
        params = schemas.check_query(request.query, request.version, index=False)
        user_id = self._target_user(request, params.get("user_id"))
        self._authorize(request, "delete", user_id)
        self._store.delete(request.context, user_id, request.path_params["name"])
        LOG.info("Deleted keypair %s of user %s", request.path_params["name"], user_id)
        status = 204 if not request.legacy and request.version.matches("2.2") else 202
        return ApiResponse(status)

    def create(self, request: ApiRequest) -> ApiResponse:
        version, legacy = request.version, request.legacy
        self._validate(schemas.create_schema(version, legacy), request.body)
        body = request.body["keypair"]
        if legacy:
            name = schemas.check_legacy_name(body["name"])
        else:
            name = body["name"]
            schemas.check_name(name, version)
        key_type = body.get("type", "ssh") if not legacy and version.matches("2.2") else "ssh"
        user_id = self._target_user(request, body.get("user_id"))
        self._authorize(request, "create", user_id)

        private_key = None
        if body.get("public_key") is not None:
            public_text = body["public_key"]
            parsed = self._parse(public_text, key_type)
        else:
            generated = self._generate(key_type, user_id)
            public_text, parsed, private_key = (
                generated.public_text,
                generated.public_key,
                generated.private_key,
            )
        keypair = self._store.create(
            request.context,
            {
                "user_id": user_id,
                "name": name,
                "fingerprint": parsed.fingerprint,
                "public_key": public_text,
                "type": key_type,
            },
            self._conf.quota.key_pairs,
        )
        LOG.info(
            "Created keypair %s (%s %s) for user %s",
            name, key_type, parsed.fingerprint, user_id,
        )
        status = 201 if not legacy and version.matches("2.2") else 200
        return ApiResponse(status, views.created(keypair, version, legacy, private_key))

    def _parse(self, public_text: str, key_type: str) -> crypto.PublicKey:
        allowed = self._conf.keypairs.allowed_types
        if key_type == "x509":
            if "x509" not in allowed:
                raise exception.InvalidKeypair("x509 certificates are not allowed here")
            return crypto.parse_x509_certificate(public_text)
        return crypto.parse_openssh_public_key(
            public_text,
            min_rsa_bits=self._conf.keypairs.min_rsa_bits,
            allowed_algorithms=self._allowed_algorithms,
        )

    def _generate(self, key_type: str, user_id: str) -> Any:
        if not self._conf.keypairs.allow_generation:
            raise exception.InvalidKeypair(
                "this cloud does not generate key pairs; import a public_key instead"
            )
        if key_type == "x509":
            return crypto.generate_x509_keypair(user_id)
        algorithm = self._conf.keypairs.generation_algorithm
        return crypto.generate_ssh_keypair(
            algorithm=algorithm,
            bits=self._conf.keypairs.generation_rsa_bits if algorithm == "rsa" else None,
            private_key_format="pem" if algorithm == "rsa" else "openssh",
        )


_LABEL_ALGORITHMS = {
    "ssh-rsa": "rsa",
    "ssh-ed25519": "ed25519",
    "ecdsa-sha2-nistp256": "ecdsa-p256",
    "ecdsa-sha2-nistp384": "ecdsa-p384",
    "ecdsa-sha2-nistp521": "ecdsa-p521",
    "sk-ssh-ed25519@openssh.com": "sk-ed25519",
    "sk-ecdsa-sha2-nistp256@openssh.com": "sk-ecdsa-p256",
}


def _algorithms_for_labels(labels: list[str]) -> list[str]:
    return [_LABEL_ALGORITHMS[label] for label in labels if label in _LABEL_ALGORITHMS]
