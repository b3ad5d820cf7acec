"""Servers: records that go ACTIVE at once, with the extensions' contributions.

The reference host boots nothing.  It validates the body against its own
schema plus the fragments the enabled extensions declare for the request's
microversion, runs the extensions' hooks in order, and stores what each
contributed beside the instance.
"""

from __future__ import annotations

import copy
import datetime
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from keypairs_ext.host import policies
from keypairs_ext.host.contract import (
    ApiRequest,
    ApiResponse,
    Extension,
    Invalid,
    NotFound,
    Route,
    ServerEvent,
    ServerHookInput,
    Version,
    storable,
)
from keypairs_ext.host.db.models import Instance

LOG = logging.getLogger(__name__)

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
# Stored in 255-character columns (an integer as its decimal string).
_REF = {"type": ["string", "integer"], "maxLength": 255, "minimum": -(2**63), "maximum": 2**63 - 1}
_METADATA = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "additionalProperties": {"type": "string", "maxLength": 255},
}
# What the host itself reads, plus properties real clients send that a host
# that boots nothing accepts and ignores.
_SERVER_PROPERTIES: dict[str, Any] = {
    "name": _NAME,
    "imageRef": _REF,
    "flavorRef": _REF,
    "metadata": _METADATA,
    "user_data": {"type": "string", "maxLength": 65535},
    "networks": {},
    "security_groups": {"type": "array"},
    "availability_zone": {"type": "string"},
    "min_count": {"type": ["integer", "string"]},
    "max_count": {"type": ["integer", "string"]},
    "return_reservation_id": {"type": ["boolean", "string"]},
    "adminPass": {"type": "string"},
    "config_drive": {"type": ["boolean", "string"]},
    "description": {"type": ["string", "null"], "maxLength": 255},
    "block_device_mapping": {"type": "array"},
    "block_device_mapping_v2": {"type": "array"},
    "tags": {"type": "array"},
    "OS-DCF:diskConfig": {"type": "string"},
    "accessIPv4": {"type": "string"},
    "accessIPv6": {"type": "string"},
}
_REBUILD_PROPERTIES: dict[str, Any] = {
    "imageRef": _REF,
    "name": _NAME,
    "metadata": _METADATA,
    "adminPass": {"type": "string"},
    "preserve_ephemeral": {"type": "boolean"},
    "OS-DCF:diskConfig": {"type": "string"},
    "description": {"type": ["string", "null"], "maxLength": 255},
    "user_data": {"type": ["string", "null"], "maxLength": 65535},
    "accessIPv4": {"type": "string"},
    "accessIPv6": {"type": "string"},
}


def _envelope(key: str, properties: dict, required: list[str], strict: bool) -> dict:
    return {
        "type": "object",
        "properties": {
            key: {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": not strict,
            }
        },
        "required": [key],
        "additionalProperties": not strict,
    }


def _unstorable(value: Any, path: str) -> tuple[str, str] | None:
    """The first string (key or value) within ``value`` that no backend stores, and where."""
    if isinstance(value, str):
        return None if storable(value) else (path, value)
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        found = _unstorable(key, path) if isinstance(key, str) else None
        found = found or _unstorable(item, f"{path}/{key}")
        if found:
            return found
    return None


def _timestamp(value: datetime.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class ServersController:
    def __init__(
        self,
        database: Any,
        enforcer: Any,
        extensions: Sequence[Extension],
        validate: Callable[[dict, Any], None],
        disabled_properties: Mapping[str, str],
    ) -> None:
        self._db = database
        self._enforcer = enforcer
        self._extensions = list(extensions)
        self._validate = validate
        self._disabled = dict(disabled_properties)
        self._schemas: dict[tuple[str, Version, bool], dict] = {}
        self._filters = {
            name: (ext.alias, predicate)
            for ext in self._extensions
            for name, predicate in ext.server_filters().items()
        }

    # --- schemas ------------------------------------------------------------

    def _schema(self, action: str, version: Version, legacy: bool) -> dict:
        key = (action, version, legacy)
        schema = self._schemas.get(key)
        if schema is None:
            if action == "create":
                properties = dict(_SERVER_PROPERTIES)
                for ext in self._extensions:
                    properties.update(ext.server_create_schema(version))
                schema = _envelope("server", properties, ["name", "flavorRef"], not legacy)
            else:
                properties = dict(_REBUILD_PROPERTIES)
                for ext in self._extensions:
                    properties.update(ext.server_rebuild_schema(version))
                schema = _envelope("rebuild", properties, ["imageRef"], not legacy)
            self._schemas[key] = schema
        return schema

    def _check_disabled(self, body: Any, key: str) -> None:
        inner = body.get(key) if isinstance(body, dict) else None
        if not isinstance(inner, dict):
            return
        for prop in inner:
            alias = self._disabled.get(prop)
            if alias is not None:
                raise Invalid(
                    f"Invalid input for field/attribute {key}. '{prop}' is provided "
                    f"by the extension '{alias}', which is not enabled on this cloud."
                )

    def _checkstorable(self, body: Any, key: str, properties: Mapping[str, Any]) -> None:
        """A 400 for text the host would store but a backend cannot (a 500 otherwise)."""
        inner = body[key]
        for prop in properties:
            found = _unstorable(inner.get(prop), f"{key}/{prop}")
            if found:
                path, value = found
                shown = value if len(value) <= 255 else value[:255] + "..."
                raise Invalid(
                    f"Invalid input for field/attribute {path}. Value: {shown!r}. "
                    "Text may not contain NUL characters or invalid Unicode."
                )

    # --- storage ------------------------------------------------------------

    def _authorize(self, request: ApiRequest, action: str, project_id: str) -> None:
        self._enforcer.authorize(
            policies.SERVERS % action,
            {"project_id": project_id},
            request.context,
            do_raise=True,
        )

    def _load(self, request: ApiRequest, session: Any, server_id: str) -> Instance:
        instance = session.get(Instance, server_id) if storable(server_id) else None
        if instance is None or (
            instance.project_id != request.context.project_id and not request.context.is_admin
        ):
            raise NotFound(f"Instance {server_id} could not be found.")
        return instance

    # --- views --------------------------------------------------------------

    def _links(self, request: ApiRequest, instance: Instance) -> list[dict[str, str]]:
        base = request.url.split("/servers")[0]
        root = base.split("/v2")[0].split("/v1.1")[0]
        return [
            {"rel": "self", "href": f"{base}/servers/{instance.id}"},
            {"rel": "bookmark", "href": f"{root}/servers/{instance.id}"},
        ]

    def _detail(self, request: ApiRequest, instance: Instance) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": instance.id,
            "name": instance.name,
            "status": instance.status,
            "tenant_id": instance.project_id,
            "user_id": instance.user_id,
            "metadata": instance.server_metadata,
            "image": {"id": instance.image_ref, "links": []} if instance.image_ref else "",
            "flavor": {"id": instance.flavor_ref, "links": []},
            "created": _timestamp(instance.created_at),
            "updated": _timestamp(instance.updated_at or instance.created_at),
            "addresses": {},
            "accessIPv4": "",
            "accessIPv6": "",
            "hostId": "",
            "progress": 0,
            "OS-DCF:diskConfig": "MANUAL",
            "links": self._links(request, instance),
        }
        for ext in self._extensions:
            contribution = instance.extension_data.get(ext.alias, {})
            view.update(ext.server_view(contribution, request.version))
            contract_version = request.extension_versions.get(ext.contract_name or "")
            if contract_version is not None:
                view.update(ext.server_extended_view(contribution, contract_version))
        return view

    # --- actions ------------------------------------------------------------

    def create(self, request: ApiRequest) -> ApiResponse:
        context = request.context
        self._authorize(request, "create", context.project_id)
        self._check_disabled(request.body, "server")
        self._validate(self._schema("create", request.version, request.legacy), request.body)
        self._checkstorable(request.body, "server", _SERVER_PROPERTIES)
        server = request.body["server"]
        if request.legacy:
            server = {
                k: v for k, v in server.items() if k in self._known_create_properties(request)
            }
        contributions: dict[str, dict] = {}
        for ext in self._extensions:
            contribution: dict[str, Any] = {}
            ext.on_server_create(
                ServerHookInput(
                    context,
                    request.version,
                    copy.deepcopy(server),
                    contribution,
                    request.extension_versions,
                )
            )
            contributions[ext.alias] = contribution
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        instance = Instance(
            id=str(uuid.uuid4()),
            project_id=context.project_id,
            user_id=context.user_id,
            name=server["name"].strip() if request.legacy else server["name"],
            image_ref=str(server.get("imageRef", "")),
            flavor_ref=str(server["flavorRef"]),
            status="ACTIVE",
            server_metadata=server.get("metadata", {}),
            extension_data=contributions,
            user_data=server.get("user_data"),
            created_at=now,
            updated_at=now,
        )
        with self._db.writer.using(context) as session:
            session.add(instance)
        self._announce("on_server_created", context, instance)
        body = {
            "server": {
                "id": instance.id,
                "links": self._links(request, instance),
                "OS-DCF:diskConfig": "MANUAL",
                "security_groups": [{"name": "default"}],
                "adminPass": server.get("adminPass") or secrets.token_urlsafe(9),
            }
        }
        location = self._links(request, instance)[0]["href"]
        return ApiResponse(202, body, {"Location": location})

    def _announce(self, hook: str, context: Any, instance: Instance) -> None:
        """Tell each extension about a committed change: the server stands
        (or is gone) whatever an extension's handler does."""
        for ext in self._extensions:
            event = ServerEvent(
                context,
                instance.id,
                instance.name,
                instance.created_at,
                instance.extension_data.get(ext.alias, {}),
            )
            try:
                getattr(ext, hook)(event)
            except Exception:
                LOG.exception(
                    "%s of extension %s failed for server %s", hook, ext.alias, instance.id
                )

    def _known_create_properties(self, request: ApiRequest) -> set[str]:
        schema = self._schema("create", request.version, False)
        return set(schema["properties"]["server"]["properties"])

    def show(self, request: ApiRequest) -> ApiResponse:
        with self._db.reader.using(request.context) as session:
            instance = self._load(request, session, request.path_params["server_id"])
            self._authorize(request, "show", instance.project_id)
            return ApiResponse(200, {"server": self._detail(request, instance)})

    def _list(self, request: ApiRequest) -> list[Instance]:
        context = request.context
        query = sa.select(Instance).order_by(Instance.created_at.desc(), Instance.id)
        if not (context.is_admin and request.query_values("all_tenants")):
            query = query.where(Instance.project_id == context.project_id)
        names = request.query_values("name")
        if names:
            if not storable(names[-1]):
                return []  # no server has that name (and PostgreSQL cannot compare it)
            query = query.where(Instance.name == names[-1])
        with self._db.reader.using(context) as session:
            instances = list(session.scalars(query))
        for name, values in ((n, request.query_values(n)) for n in self._filters):
            if values:
                alias, predicate = self._filters[name]
                instances = [
                    i for i in instances if predicate(i.extension_data.get(alias, {}), values[-1])
                ]
        return instances

    def index(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, "index", request.context.project_id)
        servers = [
            {"id": i.id, "name": i.name, "links": self._links(request, i)}
            for i in self._list(request)
        ]
        return ApiResponse(200, {"servers": servers})

    def detail(self, request: ApiRequest) -> ApiResponse:
        self._authorize(request, "detail", request.context.project_id)
        servers = [self._detail(request, i) for i in self._list(request)]
        return ApiResponse(200, {"servers": servers})

    def delete(self, request: ApiRequest) -> ApiResponse:
        with self._db.writer.using(request.context) as session:
            instance = self._load(request, session, request.path_params["server_id"])
            self._authorize(request, "delete", instance.project_id)
            session.delete(instance)
        self._announce("on_server_deleted", request.context, instance)
        return ApiResponse(204)

    def action(self, request: ApiRequest) -> ApiResponse:
        body = request.body
        if not isinstance(body, dict) or len(body) != 1:
            raise Invalid("Malformed request body: expected one action.")
        (name,) = body
        if name != "rebuild":
            raise Invalid(f"There is no such action: {name}")
        return self._rebuild(request)

    def _rebuild(self, request: ApiRequest) -> ApiResponse:
        context = request.context
        self._check_disabled(request.body, "rebuild")
        self._validate(self._schema("rebuild", request.version, request.legacy), request.body)
        self._checkstorable(request.body, "rebuild", _REBUILD_PROPERTIES)
        rebuild = request.body["rebuild"]
        if request.legacy:
            # Tolerated is not accepted: what 2.0 does not know (key_name is
            # 2.54+) was not validated, so neither the host nor a hook sees it.
            known = self._schema("rebuild", request.version, False)["properties"]["rebuild"]
            rebuild = {k: v for k, v in rebuild.items() if k in known["properties"]}
        with self._db.writer.using(context) as session:
            instance = self._load(request, session, request.path_params["server_id"])
            self._authorize(request, "rebuild", instance.project_id)
            data = copy.deepcopy(instance.extension_data)
            for ext in self._extensions:
                contribution = data.setdefault(ext.alias, {})
                ext.on_server_rebuild(
                    ServerHookInput(
                        context,
                        request.version,
                        copy.deepcopy(rebuild),
                        contribution,
                        request.extension_versions,
                    )
                )
            instance.extension_data = data
            instance.image_ref = str(rebuild["imageRef"])
            if "name" in rebuild:
                instance.name = rebuild["name"]
            if "metadata" in rebuild:
                instance.server_metadata = rebuild["metadata"]
            instance.updated_at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
            session.flush()
            view = self._detail(request, instance)
        self._announce("on_server_rebuilt", context, instance)
        if request.version.matches(high="2.46"):
            view["adminPass"] = rebuild.get("adminPass") or secrets.token_urlsafe(9)
        return ApiResponse(202, {"server": view})

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/servers", self.index, xml_list_item="server"),
            Route("POST", "/servers", self.create),
            Route("GET", "/servers/detail", self.detail, xml_list_item="server"),
            Route("GET", "/servers/{server_id}", self.show),
            Route("DELETE", "/servers/{server_id}", self.delete),
            Route("POST", "/servers/{server_id}/action", self.action),
        ]
