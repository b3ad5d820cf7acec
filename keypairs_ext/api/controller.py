"""The os-keypairs resource: list, create (import or generate), show, delete."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from keypairs_ext import crypto, exception, notification_payloads, notifications
from keypairs_ext.api import extended, lifecycle, schemas, sharing, views
from keypairs_ext.db.api import KeypairStore
from keypairs_ext.host.contract import ApiRequest, ApiResponse, HostServices, Invalid
from keypairs_ext.keypool import RSAKeyPool
from keypairs_ext.policies import BASE, SHARED

LOG = logging.getLogger(__name__)


def _is_extended(request: ApiRequest) -> bool:
    return extended.CONTRACT in request.extension_versions


def _has_lifecycle(request: ApiRequest) -> bool:
    """Keypairs 1.1 or later was asked for."""
    return lifecycle.applies(
        request.extension_versions.get(extended.CONTRACT), extended.LIFECYCLE_VERSION
    )


_CREATE_V11 = lifecycle.with_lifecycle(extended.CREATE)
_CREATE_V12 = sharing.with_visibility(_CREATE_V11)
_UPDATE_V12 = sharing.with_visibility(lifecycle.UPDATE)


class KeypairController:
    def __init__(self, services: HostServices, store: KeypairStore) -> None:
        self._services = services
        # The option groups, looked up once; their values are read per request,
        # as a host may change them after the extension is built.
        self._options = services.conf.keypairs
        self._quota = services.conf.quota
        self._store = store
        self._validate = services.validate
        self._allowed_algorithms = crypto.algorithms_for_labels(self._options.allowed_types)
        self._rsa_pool = RSAKeyPool(self._options.rsa_pool_size, self._options.generation_rsa_bits)
        self._events = notifications.KeypairEvents(
            services.notifier, self._options.extended_notifications
        )

    # --- helpers ------------------------------------------------------------

    def _authorize(self, request: ApiRequest, action: str, user_id: str) -> None:
        self._services.policy.authorize(
            BASE % action, {"user_id": user_id}, request.context, do_raise=True
        )

    def _authorize_shared(self, request: ApiRequest, action: str, keypair: Any) -> None:
        target = {"user_id": keypair.user_id, "project_id": keypair.shared_project_id}
        self._services.policy.authorize(SHARED % action, target, request.context, do_raise=True)

    def _own_or_shared(self, request: ApiRequest, user_id: str, name: str, action: str) -> Any:
        """The keypair ``name`` of ``user_id``; from keypairs 1.2, when the
        caller has none of that name, the one shared with the caller's project
        (after the ``shared:<action>`` rule)."""
        try:
            return self._store.get(request.context, user_id, name)
        except exception.KeypairNotFound:
            if not (sharing.applies(request) and user_id == request.context.user_id):
                raise
            try:
                keypair = self._store.get_shared(request.context, request.context.project_id, name)
            except exception.SharedKeypairNotFound:
                raise exception.KeypairNotFound(name, user_id) from None
        self._authorize_shared(request, action, keypair)
        return keypair

    def _target_user(self, request: ApiRequest, requested: str | None) -> str:
        if requested and not request.legacy and request.version.matches("2.10"):
            schemas.check_user_id(requested)
            return requested
        return request.context.user_id

    # --- operations ---------------------------------------------------------

    def index(self, request: ApiRequest) -> ApiResponse:
        if _is_extended(request):
            return self._index_extended(request)
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

    def _index_extended(self, request: ApiRequest) -> ApiResponse:
        has_lifecycle = _has_lifecycle(request)
        params = extended.check_list_query(
            request.query, lifecycle.LIST_FILTERS if has_lifecycle else ()
        )
        user_id = self._target_user(request, params.get("user_id"))
        self._authorize(request, "index", user_id)
        max_limit = self._services.max_limit
        page_limit = min(int(params.get("limit", max_limit)), max_limit)
        filters = {k: params[k] for k in extended.LIST_FILTERS if k in params}
        now = lifecycle.now()
        rows = self._store.list_filtered(
            request.context,
            user_id,
            filters,
            page_limit,
            params.get("marker"),
            lifecycle.check_list_filters(params) if has_lifecycle else None,
            now,
            self._shared_with(request, user_id),
        )
        body: dict[str, Any] = {
            "keypairs": [{"keypair": view} for view in self._extended_views(request, rows, now)]
        }
        # A page holds one row over the limit when it would otherwise end
        # between an own and a shared key of one name (see list_filtered).
        if rows and len(rows) >= page_limit:
            body["keypairs_links"] = [
                {"rel": "next", "href": views.next_href(request, rows[-1].name)}
            ]
        return ApiResponse(200, body)

    def _extended_views(
        self, request: ApiRequest, rows: list[Any], now: Any = None
    ) -> list[dict[str, Any]]:
        """List entries of the extended contract, at the version asked for."""
        found = [
            extended.add_facts(views.summary(row, request.version, False), row) for row in rows
        ]
        if sharing.applies(request):
            for view, row in zip(found, rows, strict=True):
                sharing.add_view(view, row)
        if _has_lifecycle(request):
            counts = self._store.server_counts(request.context, [row.uuid for row in rows])
            at = now or lifecycle.now()
            for view, row in zip(found, rows, strict=True):
                view.update(lifecycle.view_fields(row, counts.get(row.uuid, 0), at))
        return found

    def _shared_with(self, request: ApiRequest, user_id: str) -> str | None:
        """The project whose shared keys the caller's extended list holds (1.2)."""
        project_id = request.context.project_id
        if (
            sharing.applies(request)
            and user_id == request.context.user_id
            and self._services.policy.authorize(
                SHARED % "show", {"project_id": project_id}, request.context
            )
        ):
            return project_id
        return None

    def _add_extended(self, request: ApiRequest, view: dict[str, Any], keypair: Any) -> None:
        extended.add_facts(view, keypair)
        if sharing.applies(request):
            sharing.add_view(view, keypair)
        if _has_lifecycle(request):
            counts = self._store.server_counts(request.context, [keypair.uuid])
            view.update(
                lifecycle.view_fields(keypair, counts.get(keypair.uuid, 0), lifecycle.now())
            )

    def _member_user(self, request: ApiRequest, action: str) -> str:
        """The user whose keypair a member URL names (``?user_id=`` at 2.10+),
        once the query is checked and ``action`` is allowed on it."""
        params = schemas.check_query(request.query, request.version, index=False)
        user_id = self._target_user(request, params.get("user_id"))
        self._authorize(request, action, user_id)
        return user_id

    def show(self, request: ApiRequest) -> ApiResponse:
        user_id = self._member_user(request, "show")
        keypair = self._own_or_shared(request, user_id, request.path_params["name"], "show")
        body = views.shown(keypair, request.version, request.legacy)
        if _is_extended(request):
            self._add_extended(request, body["keypair"], keypair)
        return ApiResponse(200, body)

    def update(self, request: ApiRequest) -> ApiResponse:
        """``PUT /os-keypairs/{name}`` (keypairs 1.1): description, labels, expiry."""
        user_id = self._member_user(request, "update")
        is_sharing = sharing.applies(request)
        self._validate(_UPDATE_V12 if is_sharing else lifecycle.UPDATE, request.body)
        name = request.path_params["name"]
        changes = dict(request.body["keypair"])
        visibility = changes.pop("visibility", None)
        # Every check before any write: nothing is half-changed.
        values = (
            lifecycle.changes(changes, self._options.max_key_lifetime, creating=False)
            if changes
            else {}
        )
        if is_sharing:
            # Another user's key shared with the project: shared:update decides.
            keypair = self._own_or_shared(request, user_id, name, "update")
            user_id = keypair.user_id
            if visibility is not None:
                self._share(request, keypair, visibility)
        if values:
            self._store.update(request.context, user_id, name, values)
        changed = [*values, *(["visibility"] if visibility else [])]
        LOG.info("Updated keypair %s of user %s: %s", name, user_id, ", ".join(sorted(changed)))
        keypair = self._store.get(request.context, user_id, name)
        self._events.extended(
            request.context,
            "keypair.update",
            "KeypairLifecyclePayload",
            notification_payloads.keypair_lifecycle(
                keypair, lifecycle.parse_labels(keypair.labels), changed
            ),
        )
        body = views.shown(keypair, request.version, False)
        self._add_extended(request, body["keypair"], keypair)
        return ApiResponse(200, body)

    def _share(self, request: ApiRequest, keypair: Any, visibility: str) -> None:
        """Share ``keypair`` with the project or make it private (keypairs 1.2)."""
        project_id = keypair.shared_project_id or request.context.project_id
        self._services.policy.authorize(
            SHARED % "update",
            {"user_id": keypair.user_id, "project_id": project_id},
            request.context,
            do_raise=True,
        )
        share_with = None
        if visibility == sharing.PROJECT:
            if keypair.shared_project_id is None and keypair.user_id != request.context.user_id:
                raise Invalid("Only its owner can share a key pair with the project.")
            share_with = project_id
        self._store.set_shared(
            request.context,
            keypair.user_id,
            keypair.name,
            share_with,
            self._quota.shared_key_pairs,
        )

    def servers(self, request: ApiRequest) -> ApiResponse:
        """``GET /os-keypairs/{name}/servers`` (keypairs 1.1): the servers using it."""
        user_id = self._member_user(request, "servers")
        keypair = self._store.get(request.context, user_id, request.path_params["name"])
        rows = self._store.servers_of(request.context, keypair.uuid) if keypair.uuid else []
        servers = [
            {"id": server_id, "name": name, "created": lifecycle.timestamp(created)}
            for server_id, name, created in rows
        ]
        return ApiResponse(200, {"servers": servers})

    def validate(self, request: ApiRequest) -> ApiResponse:
        """What an import would store, storing nothing (extended contract)."""
        self._validate(extended.VALIDATE, request.body)
        self._authorize(request, "create", request.context.user_id)
        body = request.body["keypair"]
        key_type = body.get("type", "ssh")
        parsed, public_text = self._parse_extended(body["public_key"], key_type)
        return ApiResponse(200, extended.validated(parsed, key_type, public_text))

    def delete(self, request: ApiRequest) -> ApiResponse:
        query, force = request.query, False
        if _has_lifecycle(request):
            query, force = lifecycle.split_force(query)
        params = schemas.check_query(query, request.version, index=False)
        user_id = self._target_user(request, params.get("user_id"))
        self._authorize(request, "delete", user_id)
        if force:
            self._authorize(request, "delete:force", user_id)
        name = request.path_params["name"]
        context = request.context
        if sharing.applies(request):
            # Another user's key shared with the project: shared:delete decides.
            user_id = self._own_or_shared(request, user_id, name, "delete").user_id
        args = {"user_id": user_id, "key_name": name}
        with self._events.operation(context, "delete_key_pair", args) as call:
            call.legacy("delete", "start")
            # The versioned events show the stored key: Nova reads it first,
            # so a missing key has no versioned start.
            stored = None
            if self._events.versioned:
                found = self._store.get(context, user_id, name)
                stored = notifications.keypair_fields(
                    user_id, name, found.fingerprint, found.public_key, found.type
                )
                call.versioned("delete", "start", stored)
            if _has_lifecycle(request):
                self._store.delete_unused(context, self._store.get(context, user_id, name), force)
            else:
                self._store.delete(context, user_id, name)
            if stored is not None:
                call.versioned("delete", "end", stored)
            call.legacy("delete", "end")
        LOG.info("Deleted keypair %s of user %s", name, user_id)
        status = 204 if not request.legacy and request.version.matches("2.2") else 202
        return ApiResponse(status)

    def create(self, request: ApiRequest) -> ApiResponse:
        version, legacy = request.version, request.legacy
        is_extended = _is_extended(request)
        has_lifecycle = _has_lifecycle(request)
        if sharing.applies(request):
            schema = _CREATE_V12
        elif is_extended:
            schema = _CREATE_V11 if has_lifecycle else extended.CREATE
        else:
            schema = schemas.create_schema(version, legacy)
        try:
            self._validate(schema, request.body)
        except Invalid as exc:
            if schema is schemas.CREATE_V292 and str(exc) == schemas.PUBLIC_KEY_REQUIRED:
                raise Invalid(schemas.PUBLIC_KEY_REQUIRED_FROM_292) from None
            raise
        body = request.body["keypair"]
        if legacy:
            name = schemas.check_legacy_name(body["name"])
        else:
            name = body["name"]
            schemas.check_name(name, version)
        key_type = body.get("type", "ssh") if not legacy and version.matches("2.2") else "ssh"
        user_id = self._target_user(request, body.get("user_id"))
        self._authorize(request, "create", user_id)
        # The lifecycle fields (1.1); without them a cloud's maximum lifetime still applies.
        max_lifetime = self._options.max_key_lifetime
        lifecycle_values = (
            lifecycle.changes(body if has_lifecycle else {}, max_lifetime, creating=True)
            if has_lifecycle or max_lifetime
            else {}
        )
        shared_project_id = None
        if body.get("visibility") == sharing.PROJECT:
            if user_id != request.context.user_id:
                raise Invalid("Only its owner can share a key pair with the project.")
            shared_project_id = request.context.project_id

        public_key = body.get("public_key")
        importing = public_key is not None
        # Refusals of the request itself come before any event, as Nova's
        # schema refusals do.
        if importing and is_extended:
            _refuse_generation_options(body)
        if not importing:
            self._check_generation_allowed()
            if is_extended and key_type == "x509":
                _refuse_generation_options(body, "for x509 key pairs")
        context = request.context
        action = "import" if importing else "create"
        args: dict[str, Any] = {"user_id": user_id, "key_name": name}
        if importing:
            args["public_key"] = public_key
        args["key_type"] = key_type
        private_key = None
        with self._events.operation(context, f"{action}_key_pair", args) as call:
            # Events off (the default): no payloads to build.
            events_on = self._events.on
            if events_on:
                self._refuse_over_quota(context, user_id)
                call.start(
                    action, notifications.keypair_fields(user_id, name, None, public_key, key_type)
                )
            if importing:
                if is_extended:
                    parsed, public_text = self._parse_extended(public_key, key_type)
                else:
                    public_text = public_key
                    parsed = self._parse(public_text, key_type)
            else:
                if is_extended:
                    generated = self._generate_extended(body, key_type, user_id)
                else:
                    generated = self._generate(key_type, user_id)
                public_text, parsed, private_key = (
                    generated.public_text,
                    generated.public_key,
                    generated.private_key,
                )
            keypair = self._store.create(
                context,
                {
                    "user_id": user_id,
                    "name": name,
                    "fingerprint": parsed.fingerprint,
                    "public_key": public_text,
                    "type": key_type,
                    "uuid": str(uuid.uuid4()),
                    **extended.facts(parsed),
                    **lifecycle_values,
                    "shared_project_id": shared_project_id,
                },
                self._quota.key_pairs,
                self._quota.shared_key_pairs,
            )
            if events_on:
                call.end(
                    action,
                    notifications.keypair_fields(
                        user_id, name, keypair.fingerprint, keypair.public_key, key_type
                    ),
                )
        LOG.info(
            "Created keypair %s (%s %s) for user %s",
            name,
            key_type,
            parsed.fingerprint,
            user_id,
        )
        status = 201 if not legacy and version.matches("2.2") else 200
        created = views.created(keypair, version, legacy, private_key)
        if is_extended:
            self._add_extended(request, created["keypair"], keypair)
        return ApiResponse(status, created)

    def _parse(self, public_text: str, key_type: str) -> crypto.PublicKey:
        allowed = self._options.allowed_types
        if key_type == "x509":
            if "x509" not in allowed:
                raise exception.InvalidKeypair("x509 certificates are not allowed here")
            return crypto.parse_x509_certificate(public_text)
        return crypto.parse_openssh_public_key(
            public_text,
            min_rsa_bits=self._options.min_rsa_bits,
            allowed_algorithms=self._allowed_algorithms,
        )

    def parse_any(self, text: str) -> crypto.PublicKey:
        """An SSH public key in any accepted format, under this cloud's key rules."""
        return self._parse_extended(text, "ssh")[0]

    def _parse_extended(self, text: str, key_type: str) -> tuple[crypto.PublicKey, str]:
        """Any accepted public-key format; stored as one canonical OpenSSH line."""
        if key_type == "x509":
            return self._parse(text, key_type), text
        parsed = crypto.parse_public_key_any(
            text,
            min_rsa_bits=self._options.min_rsa_bits,
            allowed_algorithms=self._allowed_algorithms,
        )
        return parsed, parsed.openssh_line

    def _refuse_over_quota(self, context: Any, user_id: str) -> None:
        """Nova refuses a create over quota before its first event.

        The create itself enforces the quota atomically; this read only
        orders the refusal as Nova's consumers see it.
        """
        limit = self._quota.key_pairs
        if limit != -1 and self._store.in_use(context, user_id) >= limit:
            raise exception.KeypairLimitExceeded()

    def _check_generation_allowed(self) -> None:
        if not self._options.allow_generation:
            raise exception.InvalidKeypair(
                "this cloud does not generate key pairs; import a public_key instead"
            )

    def _generate_extended(self, body: dict[str, Any], key_type: str, user_id: str) -> Any:
        if key_type == "x509":
            return crypto.generate_x509_keypair(user_id)
        return crypto.generate_ssh_keypair(
            algorithm=body.get("algorithm", extended.DEFAULT_ALGORITHM),
            bits=body.get("bits"),
            private_key_format=body.get("private_key_format", extended.DEFAULT_FORMAT),
            passphrase=body.get("passphrase"),
            # The key's own name is a more useful comment than a generator's.
            comment=body["name"],
            new_key=self._rsa_pool.take,
        )

    def _generate(self, key_type: str, user_id: str) -> Any:
        if key_type == "x509":
            return crypto.generate_x509_keypair(user_id)
        algorithm = self._options.generation_algorithm
        return crypto.generate_ssh_keypair(
            algorithm=algorithm,
            bits=self._options.generation_rsa_bits if algorithm == "rsa" else None,
            private_key_format="pem" if algorithm == "rsa" else "openssh",
            new_key=self._rsa_pool.take,
        )


def _refuse_generation_options(body: dict[str, Any], why: str = "with a public_key") -> None:
    given = [option for option in extended.GENERATION_ONLY if option in body]
    if given:
        raise exception.InvalidKeypair(
            f"{', '.join(given)} only apply to keys the server generates, not {why}"
        )
