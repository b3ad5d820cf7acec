"""What os-keypairs adds to servers: ``key_name`` and the key snapshot.

The snapshot (name, type, fingerprint, public key) is this extension's
contribution to the instance record, so deleting the keypair later does not
change what existing instances receive from the metadata service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keypairs_ext import exception
from keypairs_ext.db.api import KeypairStore
from keypairs_ext.host.contract import ServerHookInput, Version

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
    return {
        "key_name": keypair.name,
        "key_type": keypair.type,
        "fingerprint": keypair.fingerprint,
        "public_key": keypair.public_key,
    }


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


def instance_metadata(contribution: Mapping[str, Any]) -> dict[str, Any]:
    if not contribution.get("key_name"):
        return {}
    name = contribution["key_name"]
    return {
        "public_keys": {name: contribution["public_key"]},
        "keys": [
            {"name": name, "type": contribution["key_type"], "data": contribution["public_key"]}
        ],
    }


def ec2_metadata(contribution: Mapping[str, Any]) -> dict[str, Any]:
    if not contribution.get("key_name"):
        return {}
    key = {"_name": f"0={contribution['key_name']}", "openssh-key": contribution["public_key"]}
    return {"public-keys": {"0": key}}
