"""Authentication strategies: who the caller is, as a RequestContext.

``noauth2`` trusts a ``user:project`` token (user ``admin`` is an admin); it
is for tests and development and refuses public addresses unless told.
``keystone`` puts keystonemiddleware's ``auth_token`` in front of the API
(with a delayed decision, so that version discovery needs no token and a
refusal is a compute fault) and reads the identity headers it sets.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import webob
from oslo_config import cfg

from keypairs_ext.host.context import RequestContext


class Unauthorized(Exception):
    """No valid credentials: answered as a 401 fault."""


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
        token = request.headers.get("X-Auth-Token")
        if not token:
            user = request.headers.get("X-Auth-User", "admin")
            project = request.headers.get("X-Auth-Project-Id", "admin")
            raise Handshake(
                {
                    "X-Auth-Token": f"{user}:{project}",
                    "X-Server-Management-Url": request.path_url,
                }
            )
        user_id, _, project_id = token.partition(":")
        project_id = project_id or user_id
        is_admin = user_id == "admin"
        return RequestContext(
            user_id=user_id,
            project_id=project_id,
            is_admin=is_admin,
            roles=["admin", "member", "reader"] if is_admin else ["member", "reader"],
            request_id=request.environ.get("openstack.request_id"),
        )


class Keystone:
    name = "keystone"

    def wrap(self, app: Any, conf: cfg.ConfigOpts) -> Any:
        from keystonemiddleware import auth_token

        return auth_token.AuthProtocol(
            app, {"oslo_config_config": conf, "delay_auth_decision": True}
        )

    def context(self, request: webob.Request) -> RequestContext:
        if request.headers.get("X-Identity-Status") != "Confirmed":
            raise Unauthorized()
        context = RequestContext.from_environ(request.environ)
        context.is_admin = "admin" in (context.roles or [])
        return context


STRATEGIES = {"noauth2": NoAuth2, "keystone": Keystone}


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
