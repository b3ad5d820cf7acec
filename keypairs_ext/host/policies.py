"""Policy defaults of the reference host, and the enforcer it builds."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from oslo_config import cfg
from oslo_policy import _checks, policy

ADMIN = "rule:context_is_admin"
ADMIN_OR_OWNER = "rule:admin_or_owner"
SERVERS = "os_compute_api:servers:%s"

base_rules = [
    policy.RuleDefault("context_is_admin", "role:admin", "Who is an administrator."),
    policy.RuleDefault(
        "admin_or_owner",
        "rule:context_is_admin or project_id:%(project_id)s",
        "An administrator, or a member of the resource's project.",
    ),
]

server_rules = [
    policy.DocumentedRuleDefault(
        name=SERVERS % action,
        check_str=ADMIN_OR_OWNER,
        description=description,
        operations=[{"method": method, "path": path}],
    )
    for action, method, path, description in [
        ("index", "GET", "/servers", "List servers."),
        ("detail", "GET", "/servers/detail", "List servers with details."),
        ("show", "GET", "/servers/{server_id}", "Show a server."),
        ("create", "POST", "/servers", "Create a server."),
        ("delete", "DELETE", "/servers/{server_id}", "Delete a server."),
        ("rebuild", "POST", "/servers/{server_id}/action (rebuild)", "Rebuild a server."),
    ]
]


def list_rules() -> list[policy.RuleDefault]:
    return base_rules + server_rules


_ARG_COUNTS: dict[Any, int] = {}
_original_check = _checks._check


def _check(rule: Any, target: Any, creds: Any, enforcer: Any, current_rule: Any) -> Any:
    """oslo.policy's ``_checks._check``, with the check's arity looked up once.

    The original calls ``inspect.getfullargspec(rule.__call__)`` for every
    node of the rule tree on every enforcement, which was more than half of
    the cost of a policy check.  The arity of a check class's ``__call__``
    never changes, so it is remembered per function; the call made is the same.
    """
    method = rule.__call__
    function = getattr(method, "__func__", None)
    count = _ARG_COUNTS.get(function) if function is not None else None
    if count is None:
        count = len(inspect.getfullargspec(method).args)
        if function is not None:
            _ARG_COUNTS[function] = count
    if count > 4:
        return rule(target, creds, enforcer, current_rule)
    return rule(target, creds, enforcer)  # legacy code path


def _install_check() -> None:
    # Only over the implementation this was written against.
    if _checks._check is _original_check and list(
        inspect.signature(_original_check).parameters
    ) == ["rule", "target", "creds", "enforcer", "current_rule"]:
        _checks._check = _check


def build_enforcer(conf: cfg.ConfigOpts, extra_rules: Iterable[policy.RuleDefault] = ()):
    _install_check()
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(list_rules())
    enforcer.register_defaults(list(extra_rules))
    return enforcer


def get_enforcer() -> policy.Enforcer:
    """oslo.policy.enforcer entry point: the host's and the extension's rules."""
    from keypairs_ext import policies as keypair_policies

    conf = cfg.ConfigOpts()
    conf([], project="keypairs_ext")
    return build_enforcer(conf, keypair_policies.list_rules())
