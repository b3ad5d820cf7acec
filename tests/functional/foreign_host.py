"""A host that is not the reference one, loading os-keypairs through the contract.

It uses stevedore directly, plain WebOb, one microversion (2.1), a header
carrying the user, and its own error format.  It shares ``contract`` with
the reference host, and borrows its 15-line alembic runner because the
extension's script directory has no ``env.py`` of its own.
"""

from __future__ import annotations

import json

import jsonschema
import webob
from oslo_config import cfg
from oslo_context import context
from oslo_db.sqlalchemy import enginefacade
from oslo_policy import policy
from stevedore import NamedExtensionManager

from keypairs_ext.host import contract


@enginefacade.transaction_context_provider
class Context(context.RequestContext):
    pass


def validate(schema, body):
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError as exc:
        raise contract.Invalid(exc.message) from exc


def raise_load_failure(_manager, entry_point, exc):
    raise RuntimeError(f"cannot load extension {entry_point.name}: {exc}") from exc


def raise_missing(names):
    raise RuntimeError(f"extensions not installed: {', '.join(sorted(names))}")


class ForeignHost:
    STATUS = {
        contract.Invalid: 400,
        contract.Forbidden: 403,
        contract.QuotaExceeded: 403,
        contract.NotFound: 404,
        contract.Conflict: 409,
    }

    def __init__(self, database_url: str, entry_points=("keypairs",)) -> None:
        self.conf = cfg.ConfigOpts()
        self.conf([], project="foreign")
        self.database = enginefacade.transaction_context()
        self.database.configure(connection=database_url)
        self.enforcer = policy.Enforcer(self.conf)
        self.enforcer.register_default(policy.RuleDefault("context_is_admin", "role:admin"))
        manager = NamedExtensionManager(
            contract.EXTENSION_GROUP,
            names=list(entry_points),
            on_load_failure_callback=raise_load_failure,
            name_order=True,
            on_missing_entrypoints_callback=raise_missing,
        )
        services = contract.HostServices(
            conf=self.conf,
            database=self.database,
            policy=self.enforcer,
            max_version=contract.Version(2, 1),
            max_limit=50,
            validate=validate,
        )
        self.extensions = []
        self.routes = {}
        for loaded in manager.extensions:
            cls = loaded.plugin
            cls.register_opts(self.conf)
            self.enforcer.register_defaults(list(cls.list_rules()))
            extension = cls(services)
            self.extensions.append(extension)
            for route in extension.routes():
                if not route.legacy_only:
                    self.routes[(route.method, tuple(route.path.strip("/").split("/")))] = route

    def migrate(self) -> None:
        from keypairs_ext.host.db import migrate

        engine = self.database.writer.get_engine()
        for extension in self.extensions:
            if extension.migrations():
                migrate.upgrade(engine, extension.migrations(), f"version_{extension.alias}")

    def _route(self, method: str, path: str):
        parts = tuple(path.strip("/").split("/"))
        for (route_method, template), route in self.routes.items():
            if (
                route_method == method
                and len(template) == len(parts)
                and all(t.startswith("{") or t == p for t, p in zip(template, parts, strict=True))
            ):
                params = {
                    t[1:-1]: p for t, p in zip(template, parts, strict=True) if t.startswith("{")
                }
                return route, params
        return None, None

    @webob.dec.wsgify
    def __call__(self, request: webob.Request) -> webob.Response:
        route, params = self._route(request.method, request.path_info)
        if route is None:
            return webob.Response(status=404, json_body={"error": "no such route"})
        user = request.headers.get("X-Foreign-User", "anonymous")
        ctx = Context(user_id=user, project_id="foreign", roles=["member"])
        api_request = contract.ApiRequest(
            context=ctx,
            version=contract.Version(2, 1),
            legacy=False,
            path_params=params,
            query=list(request.GET.items()),
            body=json.loads(request.body) if request.body else None,
            url=request.path_url,
            query_string=request.query_string,
        )
        try:
            result = route.handler(api_request)
        except contract.APIError as exc:
            status = next((s for cls, s in self.STATUS.items() if isinstance(exc, cls)), 500)
            return webob.Response(status=status, json_body={"error": str(exc)})
        response = webob.Response(status=result.status)
        if result.body is not None:
            response.json_body = result.body
        return response
