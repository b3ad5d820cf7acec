"""What os-keypairs adds to servers: ``key_name`` and the key snapshot.

The snapshot (name, type, fingerprint, public key, and the keypair's UUID
and expiry) is this extension's contribution to the instance record, so
deleting or updating the keypair later does not change what existing
instances receive from the metadata service.  A key that has expired is
refused at create and rebuild; a key with an expiry is served with
OpenSSH's ``expiry-time`` option (see :func:`authorized_line`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keypairs_ext import exception
from keypairs_ext.api import lifecycle
from keypairs_ext.db.api import KeypairStore
from keypairs_ext.host.contract import ServerEvent, ServerHookInput, Version

KEY_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
KEY_NAME_OR_NULL = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
REBUILD_KEY_NAME_FROM = "2.54"


def create_schema(version: Version) -> dict[str, Any]:
    return {"key_name": KEY_NAME}


def rebuild_schema(version: Version) -> dict[str, Any]:
    return {"key_name": KEY_NAME_OR_NULL} if version.matches(REBUILD_KEY_NAME_FROM) else {}


def snapshot(store: KeypairStore, context: Any, key_name: str) -> dict[str, Any]:
    try:
        keypair = store.get(context, context.user_id, key_name)
    except exception.KeypairNotFound as exc:
        raise exception.InvalidKeyName() from exc
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
    return taken


def record_usage(store: KeypairStore, event: ServerEvent) -> None:
    """The server now uses the keypair of its snapshot (or none)."""
    key_id = event.contribution.get("key_id")
    store.record_server(
        event.context, event.server_id, event.name, event.created_at, [key_id] if key_id else []
    )


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


def on_create(store: KeypairStore, hook: ServerHookInput) -> None:
    key_name = hook.body.get("key_name")
    if key_name is not None:
        hook.contribution.update(snapshot(store, hook.context, key_name))


def on_rebuild(store: KeypairStore, hook: ServerHookInput) -> None:
    if "key_name" not in hook.body:
        return
    key_name = hook.body["key_name"]
    hook.contribution.clear()
    if key_name is not None:
        hook.contribution.update(snapshot(store, hook.context, key_name))


def view(contribution: Mapping[str, Any]) -> dict[str, Any]:
    return {"key_name": contribution.get("key_name")}


def matches_key_name(contribution: Mapping[str, Any], value: str) -> bool:
    return contribution.get("key_name") == value


def instance_metadata(contribution: Mapping[str, Any], utc_suffix: bool = False) -> dict[str, Any]:
    if not contribution.get("key_name"):
        return {}
    name = contribution["key_name"]
    line = authorized_line(contribution, utc_suffix)
    return {
        "public_keys": {name: line},
        "keys": [{"name": name, "type": contribution["key_type"], "data": line}],
    }


def ec2_metadata(contribution: Mapping[str, Any], utc_suffix: bool = False) -> dict[str, Any]:
    if not contribution.get("key_name"):
        return {}
    line = authorized_line(contribution, utc_suffix)
    key = {"_name": f"0={contribution['key_name']}", "openssh-key": line}
    return {"public-keys": {"0": key}}
