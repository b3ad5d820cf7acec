"""Policy defaults of os-keypairs (rules os_compute_api:os-keypairs:*)."""

from __future__ import annotations

from oslo_policy import policy

BASE = "os_compute_api:os-keypairs:%s"
ADMIN_OR_KEYPAIR_OWNER = "rule:context_is_admin or user_id:%(user_id)s"

rules = [
    policy.DocumentedRuleDefault(
        name=BASE % action,
        check_str=ADMIN_OR_KEYPAIR_OWNER,
        description=description,
        operations=[{"method": method, "path": path}],
    )
    for action, method, path, description in [
        ("index", "GET", "/os-keypairs", "List the key pairs of a user."),
        ("create", "POST", "/os-keypairs", "Create (generate or import) a key pair."),
        ("show", "GET", "/os-keypairs/{keypair_name}", "Show a key pair."),
        ("delete", "DELETE", "/os-keypairs/{keypair_name}", "Delete a key pair."),
    ]
]


def list_rules() -> list[policy.RuleDefault]:
    return list(rules)
