"""A host that is not the reference one, loading os-keypairs through the contract.

Written from ``doc/source/contributor/host-contract.rst`` alone: it imports
nothing of ``keypairs_ext`` but ``keypairs_ext.host.contract``.  Its own
parts: stevedore used directly, a routing table of its own, one compute
microversion (2.35: generation and paging both exist there), a header
carrying the user, its own error body (``{"error": message}``), its own
servers table and a metadata page per server, and an alembic runner built
on alembic's public API (the extension's script directory has no
``env.py``: the host supplies the environment, as the contract says).
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any

import jsonschema
import sqlalchemy as sa
import webob
import webob.dec
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from oslo_config import cfg
from oslo_context import context
from oslo_db.sqlalchemy import enginefacade
from oslo_policy import policy
from stevedore import NamedExtensionManager

from keypairs_ext.host import contract

VERSION = contract.Version(2, 35)
# This host's answer to each contract error, most specific first.
STATUS: list[tuple[type[Exception], int]] = [
    (contract.Invalid, 400),
    (contract.QuotaExceeded, 403),
    (contract.Forbidden, 403),
    (policy.PolicyNotAuthorized, 403),
    (contract.NotFound, 404),
    (contract.Conflict, 409),
    (contract.NotAcceptable, 406),
    (contract.ServiceUnavailable, 503),
]
SERVERS = sa.Table(
    "foreign_servers",
    sa.MetaData(),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    # {extension alias: that extension's contribution}
    sa.Column("contributions", sa.Text, nullable=False),
)


@enginefacade.transaction_context_provider
class Context(context.RequestContext):
    pass


def validate(schema: dict, body: Any) -> None:
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "body"
        raise contract.Invalid(f"{where}: {exc.message}") from exc


def upgrade(engine: sa.engine.Engine, script_location: str, version_table: str) -> None:
    """Run the pending revisions of ``script_location``, then record the head."""
    config = Config()
    config.set_main_option("script_location", script_location)
    script = ScriptDirectory.from_config(config)
    with engine.begin() as connection:
        migration = MigrationContext.configure(connection, opts={"version_table": version_table})
        current = migration.get_current_revision() or "base"
        pending = reversed(list(script.iterate_revisions("head", current)))
        with Operations.context(migration):
            for revision in pending:
                revision.module.upgrade()
        migration.stamp(script, "head")


def _raise_load_failure(_manager: Any, entry_point: Any, exc: Exception) -> None:
    raise RuntimeError(f"cannot load extension {entry_point.name}: {exc}") from exc


def _raise_missing(names: Any) -> None:
    raise RuntimeError(f"extensions not installed: {', '.join(sorted(names))}")


class ForeignHost:
    def __init__(
        self,
        database_url: str,
        entry_points: tuple[str, ...] = ("keypairs",),
        quota: int | None = None,
    ) -> None:
        self.conf = cfg.ConfigOpts()
        self.conf([], project="foreign")
        self.database = enginefacade.transaction_context()
        self.database.configure(connection=database_url)
        self.enforcer = policy.Enforcer(self.conf)
        self.enforcer.register_default(policy.RuleDefault("context_is_admin", "role:admin"))
        manager = NamedExtensionManager(
            contract.EXTENSION_GROUP,
            names=list(entry_points),
            on_load_failure_callback=_raise_load_failure,
            name_order=True,
            on_missing_entrypoints_callback=_raise_missing,
        )
        services = contract.HostServices(
            conf=self.conf,
            database=self.database,
            policy=self.enforcer,
            max_version=VERSION,
            max_limit=50,
            validate=validate,
        )
        self.extensions: list[contract.Extension] = []
        for loaded in manager.extensions:
            cls = loaded.plugin
            cls.register_opts(self.conf)
            self.enforcer.register_defaults(list(cls.list_rules()))
            self.extensions.append(cls(services))
        if quota is not None:
            self.conf.set_override("key_pairs", quota, group="quota")
        # (method, compiled path) -> handler; the host's own routes first.
        self.routes: list[tuple[str, re.Pattern[str], Any]] = []
        self._add("POST", "/servers", self.create_server)
        self._add("GET", "/servers/{id}/meta_data.json", self.server_metadata)
        for extension in self.extensions:
            for route in extension.routes():
                if not (route.legacy_only or route.contract):
                    self._add(route.method, route.path, route.handler)

    def _add(self, method: str, template: str, handler: Any) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def migrate(self) -> None:
        engine = self.database.writer.get_engine()
        for extension in self.extensions:
            location = extension.migrations()
            if location:
                upgrade(engine, location, f"foreign_version_{extension.alias.replace('-', '_')}")
        SERVERS.metadata.create_all(engine)

    # --- WSGI -----------------------------------------------------------------

    @webob.dec.wsgify
    def __call__(self, request: webob.Request) -> webob.Response:
        matches = (
            (pattern.match(request.path_info), handler)
            for method, pattern, handler in self.routes
            if method == request.method
        )
        found, handler = next(((m, h) for m, h in matches if m), (None, None))
        if found is None:
            return webob.Response(status=404, json_body={"error": "no such route"})
        user = request.headers.get("X-Foreign-User", "anonymous")
        api_request = contract.ApiRequest(
            context=Context(user_id=user, project_id="foreign", roles=["member"]),
            version=VERSION,
            legacy=False,
            path_params=found.groupdict(),
            query=list(request.GET.items()),
            body=json.loads(request.body) if request.body else None,
            url=request.path_url,
            query_string=request.query_string,
        )
        try:
            result = handler(api_request)
        except tuple(cls for cls, _ in STATUS) as exc:
            status = next(s for cls, s in STATUS if isinstance(exc, cls))
            return webob.Response(status=status, json_body={"error": str(exc)})
        response = webob.Response(status=result.status)
        if result.body is not None:
            response.json_body = result.body
        return response

    # --- this host's servers ------------------------------------------------

    def create_server(self, request: contract.ApiRequest) -> contract.ApiResponse:
        properties: dict[str, Any] = {"name": {"type": "string", "minLength": 1}}
        for extension in self.extensions:
            properties.update(extension.server_create_schema(request.version))
        server_schema = {
            "type": "object",
            "properties": properties,
            "required": ["name"],
            "additionalProperties": False,
        }
        schema = {"type": "object", "properties": {"server": server_schema}, "required": ["server"]}
        validate(schema, request.body)
        body = request.body["server"]
        contributions: dict[str, dict[str, Any]] = {}
        for extension in self.extensions:
            hook = contract.ServerHookInput(request.context, request.version, body, {})
            extension.on_server_create(hook)
            contributions[extension.alias] = hook.contribution
        server = {"id": str(uuid.uuid4()), "name": body["name"]}
        with self.database.writer.connection.using(request.context) as connection:
            connection.execute(
                SERVERS.insert().values(
                    **server,
                    user_id=request.context.user_id,
                    contributions=json.dumps(contributions),
                )
            )
        created_at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        for extension in self.extensions:  # committed: tell each extension
            contribution = contributions[extension.alias]
            extension.on_server_created(
                contract.ServerEvent(
                    request.context, server["id"], server["name"], created_at, contribution
                )
            )
            server.update(extension.server_view(contribution, request.version))
        return contract.ApiResponse(202, {"server": server})

    def server_metadata(self, request: contract.ApiRequest) -> contract.ApiResponse:
        with self.database.reader.connection.using(request.context) as connection:
            row = connection.execute(
                SERVERS.select().where(SERVERS.c.id == request.path_params["id"])
            ).first()
        if row is None:
            raise contract.NotFound("no such server")
        metadata: dict[str, Any] = {"uuid": row.id, "name": row.name}
        contributions = json.loads(row.contributions)
        for extension in self.extensions:
            metadata.update(extension.instance_metadata(contributions.get(extension.alias, {})))
        return contract.ApiResponse(200, metadata)
