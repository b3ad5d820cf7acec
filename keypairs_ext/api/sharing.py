"""Team keys (keypairs 1.2): a keypair shared with its owner's project.

A keypair is ``private`` (the default) or shared with the project its owner
belonged to when sharing it (``visibility: project``).  Every member of
that project may list, show and boot with a shared key; only its owner or
an administrator may change its visibility or delete it (policy rules
``os_compute_api:os-keypairs:shared:*``).  A project has one shared key of
a name, and at most ``[quota] shared_key_pairs`` of them.

Names resolve the same way everywhere (show, update, delete, server
create): the caller's own key of that name first, then the key of that
name shared with the caller's project.  ``{"name": ..., "shared": true}``
in ``key_names`` names the shared key when the caller has one of the same
name.  Compatible requests never see any of this.
"""

from __future__ import annotations

import copy
from typing import Any

from keypairs_ext.api import extended
from keypairs_ext.host.contract import ApiRequest, Version

PRIVATE = "private"
PROJECT = "project"
VISIBILITY = {"type": "string", "enum": [PRIVATE, PROJECT]}

_SHARING = Version.parse(extended.SHARING_VERSION)


def with_visibility(schema: dict[str, Any]) -> dict[str, Any]:
    """A ``keypair`` body schema (create or ``PUT``) that also takes ``visibility``."""
    widened = copy.deepcopy(schema)
    widened["properties"]["keypair"]["properties"]["visibility"] = VISIBILITY
    return widened


def applies(request: ApiRequest) -> bool:
    """Whether the request opted in to keypairs 1.2 or later."""
    return at_least(request.extension_versions.get(extended.CONTRACT))


def at_least(version: Version | None) -> bool:
    return version is not None and version >= _SHARING


def visibility(keypair: Any) -> str:
    return PROJECT if keypair.shared_project_id is not None else PRIVATE


def add_view(view: dict[str, Any], keypair: Any) -> dict[str, Any]:
    """The 1.2 fields of a keypair's extended view: its visibility and owner."""
    view["visibility"] = visibility(keypair)
    view["user_id"] = keypair.user_id
    return view
