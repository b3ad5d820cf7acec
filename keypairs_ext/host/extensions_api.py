"""``GET /extensions`` and ``GET /extensions/{alias}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keypairs_ext.host.contract import ApiRequest, ApiResponse, Extension, NotFound, Route


def record(extension: Extension) -> dict[str, Any]:
    return {
        "name": extension.name,
        "alias": extension.alias,
        "namespace": extension.namespace,
        "updated": extension.updated,
        "description": extension.description,
        "links": [],
    }


class ExtensionsController:
    def __init__(self, extensions: Sequence[Extension]) -> None:
        self._by_alias = {ext.alias: ext for ext in extensions}

    def _record(self, request: ApiRequest, extension: Extension) -> dict[str, Any]:
        body = record(extension)
        # Extended facts only for a client that speaks that extension's contract.
        if extension.contract_name and extension.contract_name in request.extension_versions:
            body.update(extension.extension_record())
        return body

    def index(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(
            200,
            {
                "extensions": [
                    self._record(request, self._by_alias[alias]) for alias in sorted(self._by_alias)
                ]
            },
        )

    def show(self, request: ApiRequest) -> ApiResponse:
        alias = request.path_params["alias"]
        extension = self._by_alias.get(alias)
        if extension is None:
            raise NotFound(f"Extension {alias} could not be found.")
        return ApiResponse(200, {"extension": self._record(request, extension)})

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/extensions", self.index, xml_list_item="extension"),
            Route("GET", "/extensions/{alias}", self.show),
        ]
