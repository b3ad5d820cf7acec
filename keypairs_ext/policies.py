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
        (
            "update",
            "PUT",
            "/os-keypairs/{keypair_name}",
            "Change a key pair's description, labels or expiry (keypairs 1.1).",
        ),
        (
            "servers",
            "GET",
            "/os-keypairs/{keypair_name}/servers",
            "List the servers that use a key pair (keypairs 1.1).",
        ),
        (
            "delete:force",
            "DELETE",
            "/os-keypairs/{keypair_name}?force=true",
            "Delete a key pair that servers still use (keypairs 1.1); the delete rule applies too.",
        ),
    ]
]

# SSH certificates (keypairs 1.3)
CERTIFICATES = "os_compute_api:os-keypairs:certificates:%s"
AUTHORITIES = "os_compute_api:os-keypairs:certificate_authorities:%s"
REVOKED_KEYS = "os_compute_api:os-keypairs:revoked_keys:%s"
ADMIN = "rule:context_is_admin"
ADMIN_OR_PROJECT_MEMBER = "rule:context_is_admin or project_id:%(project_id)s"

certificate_rules = [
    policy.DocumentedRuleDefault(
        name=name,
        check_str=check_str,
        description=description,
        operations=[{"method": method, "path": path}],
    )
    for name, check_str, method, path, description in [
        (
            CERTIFICATES % "create",
            ADMIN_OR_KEYPAIR_OWNER,
            "POST",
            "/os-keypairs/{keypair_name}/certificates",
            "Issue an SSH certificate for a key pair.",
        ),
        (
            CERTIFICATES % "any_principal",
            ADMIN,
            "POST",
            "/os-keypairs/{keypair_name}/certificates",
            "Ask for principals beyond [certificates] allowed_principals.",
        ),
        (
            CERTIFICATES % "index",
            ADMIN_OR_PROJECT_MEMBER,
            "GET",
            "/os-ssh-certificates",
            "List the certificates issued in a project.",
        ),
        (
            CERTIFICATES % "show",
            ADMIN_OR_PROJECT_MEMBER,
            "GET",
            "/os-ssh-certificates/{serial}",
            "Show an issued certificate.",
        ),
        (
            CERTIFICATES % "revoke",
            ADMIN_OR_KEYPAIR_OWNER,
            "POST",
            "/os-ssh-certificates/{serial}/revoke",
            "Revoke a certificate (its key pair's owner, or who asked for it).",
        ),
        (
            AUTHORITIES % "index",
            ADMIN_OR_PROJECT_MEMBER,
            "GET",
            "/os-ssh-certificate-authorities",
            "List a project's certificate authorities (public keys).",
        ),
        (
            AUTHORITIES % "show",
            ADMIN_OR_PROJECT_MEMBER,
            "GET",
            "/os-ssh-certificate-authorities/{ca_id}",
            "Show a certificate authority (public key).",
        ),
        (
            AUTHORITIES % "create",
            ADMIN,
            "POST",
            "/os-ssh-certificate-authorities",
            "Create a project's CA, or a new one beside it (rotation).",
        ),
        (
            AUTHORITIES % "retire",
            ADMIN,
            "POST",
            "/os-ssh-certificate-authorities/{ca_id}/retire",
            "Retire a CA: it signs no more and its key is listed in the KRL.",
        ),
        (
            REVOKED_KEYS % "index",
            ADMIN_OR_PROJECT_MEMBER,
            "GET",
            "/os-ssh-revoked-keys",
            "List the keys revoked in a project.",
        ),
        (
            REVOKED_KEYS % "create",
            ADMIN_OR_KEYPAIR_OWNER,
            "POST",
            "/os-ssh-revoked-keys",
            "Revoke a key (a key pair's owner; any public key: an administrator).",
        ),
        (
            REVOKED_KEYS % "krl",
            ADMIN_OR_PROJECT_MEMBER,
            "GET",
            "/os-ssh-krl",
            "Read a project's Key Revocation List.",
        ),
    ]
]


SHARED = BASE % "shared:%s"
#: a key shared with a project: what its members may do, and who governs it
MEMBER_OF_PROJECT = "rule:context_is_admin or project_id:%(project_id)s"
MEMBER_ROLE_IN_PROJECT = "rule:context_is_admin or (role:member and project_id:%(project_id)s)"

shared_rules = [
    policy.DocumentedRuleDefault(
        name=SHARED % action,
        check_str=check_str,
        description=description,
        operations=operations,  # type: ignore[arg-type]
    )
    for action, check_str, description, operations in [
        (
            "show",
            MEMBER_OF_PROJECT,
            "List and show the key pairs shared with the caller's project "
            "(keypairs 1.2); the target is the project.",
            [
                {"method": "GET", "path": "/os-keypairs"},
                {"method": "GET", "path": "/os-keypairs/{keypair_name}"},
            ],
        ),
        (
            "use",
            MEMBER_ROLE_IN_PROJECT,
            "Boot or rebuild a server with a key pair shared with the caller's "
            "project (keypairs 1.2, key_name or key_names).",
            [
                {"method": "POST", "path": "/servers"},
                {"method": "POST", "path": "/servers/{server_id}/action (rebuild)"},
            ],
        ),
        (
            "update",
            ADMIN_OR_KEYPAIR_OWNER,
            "Share a key pair with the project or make it private again "
            "(keypairs 1.2); the target is the key's owner and project.",
            [{"method": "PUT", "path": "/os-keypairs/{keypair_name}"}],
        ),
        (
            "delete",
            ADMIN_OR_KEYPAIR_OWNER,
            "Delete a key pair shared with the caller's project that another "
            "user owns (keypairs 1.2).",
            [{"method": "DELETE", "path": "/os-keypairs/{keypair_name}"}],
        ),
    ]
]


def list_rules() -> list[policy.RuleDefault]:
    return [*rules, *shared_rules, *certificate_rules]
