"""What os-keypairs adds to servers: ``key_name``, ``key_names`` and the key snapshots.

The snapshot (name, type, fingerprint, public key, and the keypair's UUID
and expiry) of each key a server is booted with is this extension's
contribution to the instance record, so deleting or updating the keypair
later does not change what existing instances receive from the metadata
service.  A key that has expired is refused at create and rebuild; a key
with an expiry is served with OpenSSH's ``expiry-time`` option (see
:func:`authorized_line`).  The first key's snapshot sits at the top of the
contribution (``key_name`` of the compatible view); with ``key_names``
(keypairs 1.2) ``keys`` holds every snapshot in order.

From keypairs 1.2 a name resolves to the caller's own key, else to the key
of that name shared with the caller's project (see
:mod:`keypairs_ext.api.sharing`); ``{"name": ..., "shared": true}`` names
the shared one explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keypairs_ext import exception
from keypairs_ext.api import extended, lifecycle, sharing
from keypairs_ext.db.api import KeypairStore
from keypairs_ext.host.contract import ServerEvent, ServerHookInput, Version
from keypairs_ext.policies import SHARED

KEY_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
KEY_NAME_OR_NULL = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
KEY_NAMES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "anyOf": [
            KEY_NAME,
            {
                "type": "object",
                "properties": {"name": KEY_NAME, "shared": {"type": "boolean"}},
                "required": ["name"],
                "additionalProperties": False,
            },
        ]
    },
}
REBUILD_KEY_NAME_FROM = "2.54"


def create_schema(version: Version) -> dict[str, Any]:
    # key_names is refused by the hook unless the request opted in to 1.2.
    return {"key_name": KEY_NAME, "key_names": KEY_NAMES}


def rebuild_schema(version: Version) -> dict[str, Any]:
    if version.matches(REBUILD_KEY_NAME_FROM):
        return {"key_name": KEY_NAME_OR_NULL, "key_names": KEY_NAMES}
    return {"key_names": KEY_NAMES}


def snapshot_of(keypair: Any) -> dict[str, Any]:
    """What a server keeps of ``keypair``; an expired key is refused."""
    if lifecycle.is_expired(keypair.expires_at):
        raise exception.Invalid(
            f"Key pair '{keypair.name}' expired at {lifecycle.timestamp(keypair.expires_at)} "
            "and cannot be used for a new server or a rebuild."
        )
    taken = {
        "key_name": keypair.name,
        "key_type": keypair.type,
        "fingerprint": keypair.fingerprint,
        "public_key": keypair.public_key,
        "key_id": keypair.uuid,
    }
    if keypair.expires_at is not None:
        taken["expires_at"] = lifecycle.timestamp(keypair.expires_at)
    if keypair.shared_project_id is not None:
        taken["owner"] = keypair.user_id
    return taken


def record_usage(store: KeypairStore, event: ServerEvent) -> None:
    """The server now uses the keypairs of its snapshots (or none)."""
    key_ids = [t["key_id"] for t in _snapshots(event.contribution) if t.get("key_id")]
    store.record_server(event.context, event.server_id, event.name, event.created_at, key_ids)


def authorized_line(contribution: Mapping[str, Any], utc_suffix: bool = False) -> str:
    """The key as served to the guest: with an expiry, prefixed by OpenSSH's
    ``expiry-time="YYYYMMDDHHMMSS"`` option (``...Z`` with ``utc_suffix``).

    sshd (7.7 and later) refuses the key after that time.  Without ``Z`` it
    reads the time in the guest's system time zone, UTC on cloud images;
    ``Z`` (UTC whatever the zone) is read by OpenSSH 9.1 and later only, and
    an older sshd refuses the whole line.  A key without expiry is served
    exactly as stored.
    """
    public_key = contribution["public_key"]
    expires_at = contribution.get("expires_at")
    if not expires_at or contribution.get("key_type", "ssh") != "ssh":
        return public_key
    stamp = expires_at.replace("-", "").replace("T", "").replace(":", "").rstrip("Z")
    return f'expiry-time="{stamp}{"Z" if utc_suffix else ""}" {public_key}'


def snapshot(store: KeypairStore, context: Any, key_name: str) -> dict[str, Any]:
    """The caller's own key ``key_name`` (the compatible rule)."""
    try:
        keypair = store.get(context, context.user_id, key_name)
    except exception.KeypairNotFound as exc:
        raise exception.InvalidKeyName() from exc
    return snapshot_of(keypair)


class KeyFinder:
    """The keys a server create or rebuild names, as snapshots."""

    def __init__(self, store: KeypairStore, policy: Any, hook: ServerHookInput, most: int) -> None:
        self._store = store
        self._policy = policy
        self._context = hook.context
        self._sharing = sharing.at_least(hook.extension_versions.get(extended.CONTRACT))
        self._most = most

    def snapshots(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Snapshots of the keys ``body`` names (``key_name`` or ``key_names``)."""
        if "key_names" in body:
            if not self._sharing:
                raise exception.Invalid(
                    "Additional properties are not allowed ('key_names' was unexpected)"
                )
            if body.get("key_name") is not None:
                raise exception.Invalid("Give key_name or key_names, not both.")
            return self._named(body["key_names"])
        key_name = body.get("key_name")
        if key_name is None:
            return []
        if not self._sharing:
            return [snapshot(self._store, self._context, key_name)]
        return [self._find(key_name, shared=False, single=True)]

    def _named(self, items: list[Any]) -> list[dict[str, Any]]:
        if len(items) > self._most:
            raise exception.Invalid(
                f"key_names may name at most {self._most} keys on this cloud; "
                f"it names {len(items)}."
            )
        taken: list[dict[str, Any]] = []
        for item in items:
            name, shared = (
                (item, False)
                if isinstance(item, str)
                else (item["name"], item.get("shared", False))
            )
            if any(t["key_name"] == name for t in taken):
                raise exception.Invalid(f"key_names names '{name}' more than once.")
            taken.append(self._find(name, shared, single=False))
        return taken

    def _find(self, name: str, shared: bool, single: bool) -> dict[str, Any]:
        context = self._context
        if not shared:
            try:
                return snapshot_of(self._store.get(context, context.user_id, name))
            except exception.KeypairNotFound:
                pass
        try:
            keypair = self._store.get_shared(context, context.project_id, name)
        except exception.SharedKeypairNotFound:
            if single:
                raise exception.InvalidKeyName() from None
            where = "shared with this project" if shared else "yours or shared with this project"
            raise exception.Invalid(
                f"Key pair '{name}' not found: no key of that name is {where}."
            ) from None
        target = {"user_id": keypair.user_id, "project_id": keypair.shared_project_id}
        self._policy.authorize(SHARED % "use", target, context, do_raise=True)
        return snapshot_of(keypair)


def _fill(contribution: dict[str, Any], taken: list[dict[str, Any]], listed: bool) -> None:
    contribution.clear()
    if taken:
        contribution.update(taken[0])
        if listed:
            contribution["keys"] = taken


def on_create(keys: KeyFinder, hook: ServerHookInput) -> None:
    taken = keys.snapshots(hook.body)
    _fill(hook.contribution, taken, "key_names" in hook.body)


def on_rebuild(keys: KeyFinder, hook: ServerHookInput) -> None:
    if "key_name" not in hook.body and "key_names" not in hook.body:
        return
    taken = keys.snapshots(hook.body)
    _fill(hook.contribution, taken, "key_names" in hook.body)


def _snapshots(contribution: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every key of the server, in order."""
    if "keys" in contribution:
        return list(contribution["keys"])
    return [contribution] if contribution.get("key_name") else []


def view(contribution: Mapping[str, Any]) -> dict[str, Any]:
    return {"key_name": contribution.get("key_name")}


def extended_view(contribution: Mapping[str, Any], contract_version: Version) -> dict[str, Any]:
    if not sharing.at_least(contract_version):
        return {}
    return {"key_names": [taken["key_name"] for taken in _snapshots(contribution)]}


def matches_key_name(contribution: Mapping[str, Any], value: str) -> bool:
    return contribution.get("key_name") == value


def instance_metadata(contribution: Mapping[str, Any], utc_suffix: bool = False) -> dict[str, Any]:
    taken = _snapshots(contribution)
    if not taken:
        return {}
    lines = [(t["key_name"], t["key_type"], authorized_line(t, utc_suffix)) for t in taken]
    return {
        "public_keys": {name: line for name, _, line in lines},
        "keys": [{"name": name, "type": kind, "data": line} for name, kind, line in lines],
    }


def ec2_metadata(contribution: Mapping[str, Any], utc_suffix: bool = False) -> dict[str, Any]:
    taken = _snapshots(contribution)
    if not taken:
        return {}
    return {
        "public-keys": {
            str(index): {
                "_name": f"{index}={t['key_name']}",
                "openssh-key": authorized_line(t, utc_suffix),
            }
            for index, t in enumerate(taken)
        }
    }
