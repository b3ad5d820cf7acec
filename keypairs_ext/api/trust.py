"""Servers that trust their project's SSH CA (keypairs 1.3).

A server created with ``trust_project_ca: true`` (or, with ``[certificates]
trust_by_default``, any server of a project that has a CA) keeps a snapshot
of the project's active CAs in its contribution.  The metadata service serves
each as an ``authorized_keys`` line ``cert-authority,principals="..." <key>``
in ``public_keys``/``keys`` and the EC2 ``public-keys`` tree, after the
server's own keys, so cloud-init installs it with nothing new in the guest.
The project's KRL is served beside ``meta_data.json`` as ``ssh_revoked_keys``.

Like the key snapshot, the CA lines are fixed when the server is created (or
rebuilt): a CA added later is trusted by servers created after it, and a
retired CA is refused through the KRL, not by rewriting old servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keypairs_ext import exception
from keypairs_ext.api import extended
from keypairs_ext.api.certificates import PRINCIPALS
from keypairs_ext.authority import Authorities, trust_line
from keypairs_ext.host.contract import ServerHookInput, Version

#: where this part of the extension's contribution lives
KEY = "ssh_ca"
KRL_FILE = "ssh_revoked_keys"
PROPERTIES = ("trust_project_ca", "ca_principals")

SCHEMA = {"trust_project_ca": {"type": "boolean"}, "ca_principals": PRINCIPALS}


def _opted_in(hook: ServerHookInput) -> bool:
    version = hook.extension_versions.get(extended.CONTRACT)
    return version is not None and version >= Version.parse(extended.CERTIFICATES_VERSION)


def _refuse_unasked(hook: ServerHookInput) -> None:
    """Without keypairs 1.3 these properties do not exist, as the schema would say."""
    given = [name for name in PROPERTIES if name in hook.body]
    if given and not _opted_in(hook):
        quoted = ", ".join(repr(name) for name in given)
        verb = "were" if len(given) > 1 else "was"
        raise exception.Invalid(
            f"Additional properties are not allowed ({quoted} {verb} unexpected)"
        )


class Trust:
    """The server hooks' part for CAs; ``authorities`` is None when certificates are off."""

    def __init__(self, conf: Any, authorities: Authorities | None) -> None:
        self._conf = conf
        self._authorities = authorities

    def _snapshot(self, hook: ServerHookInput, asked: bool) -> dict[str, Any] | None:
        assert self._authorities is not None
        context = hook.context
        active = self._authorities.active(context.project_id)
        if not active:
            if not asked:
                return None
            # First use: asking a server to trust the project's CA creates it.
            active = [self._authorities.signing(context.project_id, context.user_id)]
        principals = hook.body.get("ca_principals") or (
            self._conf.server_principals or self._conf.allowed_principals
        )
        return {
            "project_id": context.project_id,
            "principals": list(principals),
            "authorities": [
                {
                    "id": ca.id,
                    "fingerprint_sha256": ca.fingerprint_sha256,
                    "public_key": ca.public_key,
                }
                for ca in active
            ],
        }

    def _decide(self, hook: ServerHookInput) -> tuple[bool, bool]:
        """(trust?, explicitly asked?) for this create or rebuild."""
        _refuse_unasked(hook)
        asked = hook.body.get("trust_project_ca")
        if "ca_principals" in hook.body and asked is False:
            raise exception.Invalid("ca_principals needs trust_project_ca: true.")
        if self._authorities is None:
            if asked or "ca_principals" in hook.body:
                raise exception.Invalid("SSH certificates are not enabled on this cloud.")
            return False, False
        if asked is None:
            return bool(self._conf.trust_by_default or "ca_principals" in hook.body), False
        return bool(asked), bool(asked)

    def on_create(self, hook: ServerHookInput) -> None:
        trust, asked = self._decide(hook)
        if trust:
            snapshot = self._snapshot(hook, asked)
            if snapshot:
                hook.contribution[KEY] = snapshot

    def on_rebuild(self, hook: ServerHookInput, before: Mapping[str, Any]) -> None:
        """After the key hook (which may have cleared the contribution)."""
        previous = before.get(KEY)
        trust, asked = self._decide(hook)
        if "trust_project_ca" not in hook.body and "ca_principals" not in hook.body:
            # Unchanged trust, refreshed CAs: a rebuilt guest reads its keys anew.
            trust = previous is not None or trust
        hook.contribution.pop(KEY, None)
        if trust and self._authorities is not None:
            snapshot = self._snapshot(hook, asked)
            if snapshot and previous and "ca_principals" not in hook.body:
                snapshot["principals"] = previous["principals"]
            if snapshot:
                hook.contribution[KEY] = snapshot

    # --- metadata -----------------------------------------------------------

    @staticmethod
    def lines(contribution: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(name, authorized_keys line) of each trusted CA."""
        trusted = contribution.get(KEY)
        if not trusted:
            return []
        return [
            (f"project-ca:{ca['id']}", trust_line(ca["public_key"], trusted["principals"]))
            for ca in trusted["authorities"]
        ]

    def krl_files(self, contribution: Mapping[str, Any]) -> dict[str, bytes]:
        trusted = contribution.get(KEY)
        if not trusted or self._authorities is None:
            return {}
        return {KRL_FILE: self._authorities.krl(trusted["project_id"])}


def add_to_metadata(document: dict[str, Any], lines: list[tuple[str, str]]) -> dict[str, Any]:
    """``public_keys`` and ``keys`` of meta_data.json, with the CA lines after the keys."""
    if not lines:
        return document
    public_keys = dict(document.get("public_keys", {}))
    keys = list(document.get("keys", []))
    for name, line in lines:
        public_keys[name] = line
        keys.append({"name": name, "type": "ssh", "data": line})
    return {**document, "public_keys": public_keys, "keys": keys}


def add_to_ec2(tree: dict[str, Any], lines: list[tuple[str, str]]) -> dict[str, Any]:
    """The EC2 ``public-keys/N`` entries, numbered after the server's own keys."""
    if not lines:
        return tree
    public_keys = dict(tree.get("public-keys", {}))
    for name, line in lines:
        index = str(len([k for k in public_keys if k != "_name"]))
        public_keys[index] = {"_name": f"{index}={name}", "openssh-key": line}
    return {**tree, "public-keys": public_keys}
