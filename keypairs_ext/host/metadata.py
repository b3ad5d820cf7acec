"""The instance metadata service (OpenStack and EC2 trees), on its own port.

An instance is identified only by ``X-Instance-ID`` signed with
``X-Instance-ID-Signature`` (hex HMAC-SHA256 under ``[metadata]
shared_secret``), the convention of the Neutron metadata proxy.  What the
extensions contributed to the instance is rendered from the instance record,
so later changes to the source (a deleted keypair) do not alter it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import webob
from oslo_db import exception as db_exc

from keypairs_ext.host.context import RequestContext
from keypairs_ext.host.contract import Extension
from keypairs_ext.host.db.models import Instance
from keypairs_ext.host.faults import HTTPFault, fault_body

OPENSTACK_VERSIONS = (
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
    "2020-10-14",
    "latest",
)
EC2_VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "latest",
)


def sign(instance_id: str, secret: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def _text(body: str, content_type: str = "text/plain") -> webob.Response:
    return webob.Response(body=body.encode(), content_type=content_type, charset="UTF-8")


def _fault(status: int, message: str) -> webob.Response:
    response = webob.Response(status=status, content_type="application/json", charset="UTF-8")
    response.body = json.dumps(fault_body(status, message)).encode()
    return response


def _listing(tree: dict[str, Any]) -> str:
    lines = []
    for key, value in tree.items():
        if key == "_name":
            continue
        if isinstance(value, dict):
            lines.append(value.get("_name", key + "/"))
        else:
            lines.append(key)
    return "\n".join(lines)


class MetadataApp:
    def __init__(self, conf: Any, database: Any, extensions: Sequence[Extension]) -> None:
        self._secret = conf.metadata.shared_secret
        self._db = database
        self._extensions = list(extensions)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = webob.Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: webob.Request) -> webob.Response:
        if request.method not in ("GET", "HEAD"):
            return _fault(405, "The metadata service is read-only.")
        try:
            parts = [p for p in request.path_info.split("/") if p]
        except UnicodeDecodeError:
            return _fault(400, "Malformed request URL: the path is not valid UTF-8.")
        if not parts:
            return _text("\n".join(EC2_VERSIONS + ("openstack",)))
        try:
            instance = self._instance(request)
        except HTTPFault as refused:
            return _fault(refused.status, refused.message)
        except db_exc.DBConnectionError:
            return _fault(503, "The metadata database is unavailable.")
        if parts[0] == "openstack":
            return self._openstack(instance, parts[1:])
        return self._ec2(instance, parts)

    def _instance(self, request: webob.Request) -> Instance:
        instance_id = request.headers.get("X-Instance-ID")
        signature = request.headers.get("X-Instance-ID-Signature")
        if not instance_id or not signature:
            raise HTTPFault(400, "X-Instance-ID and X-Instance-ID-Signature are required.")
        if not self._secret or not hmac.compare_digest(
            sign(instance_id, self._secret), signature.strip().lower()
        ):
            raise HTTPFault(403, "Invalid proxy request signature.")
        context = RequestContext(is_admin=True, overwrite=False)
        with self._db.reader.using(context) as session:
            instance = session.get(Instance, instance_id)
            if instance is None:
                raise HTTPFault(404, "Instance not found.")
            session.expunge(instance)
        return instance

    # --- OpenStack tree -----------------------------------------------------

    def _meta_data(self, instance: Instance) -> dict[str, Any]:
        document: dict[str, Any] = {
            "uuid": instance.id,
            "name": instance.name,
            "hostname": instance.name,
            "project_id": instance.project_id,
            "launch_index": 0,
            "availability_zone": "nova",
            "meta": instance.server_metadata,
            "devices": [],
        }
        for ext in self._extensions:
            document.update(ext.instance_metadata(instance.extension_data.get(ext.alias, {})))
        return document

    def _openstack(self, instance: Instance, parts: list[str]) -> webob.Response:
        if not parts:
            return _text("\n".join(OPENSTACK_VERSIONS))
        if parts[0] not in OPENSTACK_VERSIONS:
            return _fault(404, "Unknown metadata version.")
        files = {"meta_data.json": json.dumps(self._meta_data(instance))}
        if instance.user_data:
            files["user_data"] = instance.user_data
        if len(parts) == 2 and parts[1] in files:
            content_type = "application/json" if parts[1].endswith(".json") else "text/plain"
            return _text(files[parts[1]], content_type)
        # Rendered only when asked for: they may be read from the database.
        extension_files: dict[str, bytes] = {}
        for ext in self._extensions:
            contribution = instance.extension_data.get(ext.alias, {})
            for name, data in ext.instance_files(contribution).items():
                if name not in files:
                    extension_files.setdefault(name, data)
        if len(parts) == 1:
            return _text("\n".join([*files, *extension_files]))
        if len(parts) == 2 and parts[1] in extension_files:
            return webob.Response(
                body=extension_files[parts[1]], content_type="application/octet-stream"
            )
        return _fault(404, f"{'/'.join(parts[1:])} is not available for this instance.")

    # --- EC2 tree -----------------------------------------------------------

    def _ec2_tree(self, instance: Instance) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "ami-id": instance.image_ref,
            "ami-launch-index": "0",
            "hostname": instance.name,
            "instance-id": instance.id,
            "local-hostname": instance.name,
            "placement": {"availability-zone": "nova"},
        }
        for ext in self._extensions:
            meta.update(ext.ec2_metadata(instance.extension_data.get(ext.alias, {})))
        return {"meta-data": meta}

    def _ec2(self, instance: Instance, parts: list[str]) -> webob.Response:
        if parts[0] not in EC2_VERSIONS:
            return _fault(404, "Unknown metadata version.")
        tree = self._ec2_tree(instance)
        if instance.user_data:
            tree["user-data"] = instance.user_data
        node: Any = tree
        for part in parts[1:]:
            if not isinstance(node, dict) or part not in node or part == "_name":
                return _fault(404, f"{'/'.join(parts)} is not available for this instance.")
            node = node[part]
        if isinstance(node, dict):
            return _text(_listing(node))
        return _text(str(node))
