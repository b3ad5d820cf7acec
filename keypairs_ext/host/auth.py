"""Authentication strategies: who the caller is, as a RequestContext.

``noauth2`` trusts a ``user:project`` token (user ``admin`` is an admin; the
others are members, with roles ``member`` and ``reader``), or a
``user:project:role,role`` token that names the roles (``alice:p1:reader``
is a reader only, ``boss:p1:admin,member,reader`` an admin); it is for
tests and development and refuses public addresses unless told.
``keystone`` puts keystonemiddleware's ``auth_token`` in front of the API
(with a delayed decision, so that version discovery needs no token and a
refusal is a compute fault) and reads the identity headers it sets.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import re
from typing import Any

import webob
from oslo_config import cfg

from keypairs_ext.host import faults
from keypairs_ext.host.context import RequestContext
from keypairs_ext.host.faults import Unauthorized

LOG = logging.getLogger(__name__)


class Handshake(Exception):
    """noauth2's token handshake: a 204 with the token to use."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("handshake")
        self.headers = headers


class InsecureBind(RuntimeError):
    pass


class NoAuth2:
    name = "noauth2"

    def wrap(self, app: Any, conf: cfg.ConfigOpts) -> Any:
        return app

    def context(self, request: webob.Request) -> RequestContext:
        # The environ itself: webob's header view translates each name.
        token = request.environ.get("HTTP_X_AUTH_TOKEN")
        if not token:
            user = request.headers.get("X-Auth-User", "admin")
            project = request.headers.get("X-Auth-Project-Id", "admin")
            raise Handshake(
                {
                    "X-Auth-Token": f"{user}:{project}",
                    "X-Server-Management-Url": request.path_url,
                }
            )
        identity = _noauth2_identity(token)
        if identity is None:
            raise Unauthorized()
        user_id, project_id, is_admin, roles = identity
        return RequestContext(
            user_id=user_id,
            project_id=project_id,
            is_admin=is_admin,
            roles=list(roles),
            request_id=request.environ.get("openstack.request_id"),
        )


# A client sends the same token on every request: each is read once
# (bounded, since clients choose them).
@functools.lru_cache(maxsize=256)
def _noauth2_identity(token: str) -> tuple[str, str, bool, tuple[str, ...]] | None:
    """(user, project, is_admin, roles) of a noauth2 token; None when no
    identity service could have issued those ids."""
    user_id, _, rest = token.partition(":")
    project_id, _, role_list = rest.partition(":")
    project_id = project_id or user_id
    if not (_plausible_id(user_id) and _plausible_id(project_id)):
        return None
    if role_list:
        roles = tuple(role for role in role_list.split(",") if role)
        is_admin = "admin" in roles
    else:
        is_admin = user_id == "admin"
        roles = ("admin", "member", "reader") if is_admin else ("member", "reader")
    return user_id, project_id, is_admin, roles


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plausible_id(value: str) -> bool:
    """Could an identity service have issued it: 1-255 characters, no control ones.

    Ids are stored in 255-character columns, and PostgreSQL refuses NUL in
    text: a token that no identity service issues is not a server error.
    """
    return 0 < len(value) <= 255 and not _CONTROL.search(value)


class Keystone:
    name = "keystone"

    def wrap(self, app: Any, conf: cfg.ConfigOpts) -> Any:
        from keystonemiddleware import auth_token

        from keypairs_ext.host.conf import register_keystone_opts

        register_keystone_opts(conf)
        return _IdentityFailures(
            auth_token.AuthProtocol(app, {"oslo_config_config": conf, "delay_auth_decision": True})
        )

    def context(self, request: webob.Request) -> RequestContext:
        if request.environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":
            raise Unauthorized()
        context = RequestContext.from_environ(request.environ)
        context.is_admin = "admin" in (context.roles or [])
        return context


class _IdentityFailures:
    """A token that cannot be validated is a 503 fault, not a 500.

    keystonemiddleware answers an unreachable identity server itself, but
    lets some failures escape, e.g. ``MissingAuthPlugin`` on every request
    with a token when ``[keystone_authtoken]`` names no auth plugin.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        from keystoneauth1 import exceptions as ksa_exceptions
        from keystonemiddleware import exceptions as ksm_exceptions

        try:
            return self.app(environ, start_response)
        except (ksa_exceptions.ClientException, ksm_exceptions.KeystoneMiddlewareException) as exc:
            LOG.error("Cannot validate tokens: %s: %s", type(exc).__name__, exc)
            response = webob.Response(status=503, content_type="application/json", charset="UTF-8")
            response.body = json.dumps(
                faults.fault_body(503, "The identity service is unavailable; try again shortly.")
            ).encode()
            return response(environ, start_response)


STRATEGIES: dict[str, type[NoAuth2] | type[Keystone]] = {
    "noauth2": NoAuth2,
    "keystone": Keystone,
}


def strategy_for(conf: cfg.ConfigOpts) -> NoAuth2 | Keystone:
    return STRATEGIES[conf.api.auth_strategy]()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(conf: cfg.ConfigOpts, host: str) -> None:
    """noauth2 trusts anyone: refuse a non-loopback address unless overridden."""
    if (
        conf.api.auth_strategy == "noauth2"
        and not is_loopback(host)
        and not conf.api.allow_noauth2_on_public_address
    ):
        raise InsecureBind(
            f"auth_strategy noauth2 trusts every token; refusing to listen on "
            f"{host}. Use auth_strategy = keystone, bind to a loopback address, "
            "or set [api] allow_noauth2_on_public_address = true."
        )
