"""Policy defaults of the reference host, and the enforcer it builds."""

from __future__ import annotations

from collections.abc import Iterable

from oslo_config import cfg
from oslo_policy import policy

from keypairs_ext.host.enforcer import CachingEnforcer

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


def build_enforcer(
    conf: cfg.ConfigOpts, extra_rules: Iterable[policy.RuleDefault] = ()
) -> CachingEnforcer:
    enforcer = CachingEnforcer(conf)
    enforcer.register_defaults(list_rules())
    enforcer.register_defaults(list(extra_rules))
    return enforcer


def get_enforcer() -> policy.Enforcer:
    """oslo.policy.enforcer entry point: the host's rules and those of the
    extensions the configuration enables, found through the loader."""
    from keypairs_ext.host import conf as host_conf
    from keypairs_ext.host import loader

    conf = cfg.ConfigOpts()
    host_conf.register_opts(conf)
    conf([], project="keypairs")
    classes = loader.select(loader.find_installed(), conf.api.enabled_extensions)
    return build_enforcer(conf, [rule for cls in classes for rule in cls.list_rules()])
