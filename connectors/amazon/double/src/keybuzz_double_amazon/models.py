"""Amazon's SP-API Swagger 2.0 models (vendored in spapi_models/), the contract: routes,
accepted parameters, request-body schemas and rate limits are derived from them."""

from __future__ import annotations

import json
import re
from functools import cache, cached_property
from importlib import resources
from typing import Any

import msgspec
from jsonschema import Draft4Validator
from keybuzz_sandbox.ratelimit import RateLimit

# File stem -> short API name used in operation keys ("ordersV0.getOrders").
MODEL_FILES: dict[str, str] = {
    "ordersV0": "ordersV0.json",
    "orders2026": "orders_2026-01-01.json",
    "reports": "reports_2021-06-30.json",
    "messaging": "messaging.json",
    "sellers": "sellers.json",
    "notifications": "notifications.json",
}

HTTP_METHODS = ("get", "post", "put", "delete", "patch")
# A query parameter's keywords that bound its value (JSON Schema's, in Swagger 2.0).
BOUNDS = ("enum", "maxItems", "minItems", "minimum", "maximum")

_RATE_TABLE = re.compile(
    r"\|\s*Rate \(requests per second\)\s*\|\s*Burst\s*\|\s*\n\s*\|[-\s|]+\|\s*\n\s*\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|"
)


class Param(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    location: str
    required: bool = False
    type: str | None = None
    items_type: str | None = None
    # The value's bounds as the model states them (enum, item counts, minimum…), once parsed.
    bounds: Draft4Validator | None = None
    # Orders v0 dates carry no `format`, only "ISO 8601" in the description.
    is_datetime: bool = False

    @classmethod
    def from_swagger(cls, raw: dict[str, Any]) -> Param:
        items = raw.get("items") or {}
        bounds = {k: raw[k] for k in BOUNDS if k in raw}
        if "enum" in items:
            bounds["items"] = {"enum": items["enum"]}
        return cls(
            name=raw["name"],
            location=raw["in"],
            required=bool(raw.get("required", False)),
            type=raw.get("type"),
            items_type=items.get("type"),
            bounds=Draft4Validator(bounds) if bounds else None,
            is_datetime=raw.get("format") == "date-time"
            or "ISO 8601" in raw.get("description", ""),
        )


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    api: str
    operation_id: str
    method: str
    path: str
    params: tuple[Param, ...]
    body_schema: dict[str, Any] | None
    produces: str
    rate_limit: RateLimit | None

    @property
    def key(self) -> str:
        return f"{self.api}.{self.operation_id}"

    def query_params(self) -> dict[str, Param]:
        return {p.name: p for p in self.params if p.location == "query"}


def parse_rate_limit(description: str) -> RateLimit | None:
    match = _RATE_TABLE.search(description)
    return RateLimit(match.group(1), int(match.group(2))) if match else None


class ApiModel:
    """One Swagger document: its operations and a schema validator factory."""

    def __init__(self, api: str, document: dict[str, Any]) -> None:
        self.api = api
        self.document = document
        self.definitions: dict[str, Any] = document.get("definitions", {})

    @cached_property
    def operations(self) -> dict[str, Operation]:
        produces = (self.document.get("produces") or ["application/json"])[0]
        found: dict[str, Operation] = {}
        for path, item in self.document["paths"].items():
            shared = item.get("parameters", [])
            for method in HTTP_METHODS:
                raw = item.get(method)
                if raw and raw.get("operationId"):
                    op = self._operation(path, method, raw, shared, produces)
                    found[op.operation_id] = op
        return found

    def _operation(
        self, path: str, method: str, raw: dict[str, Any], shared: list[Any], produces: str
    ) -> Operation:
        raw_params = [*shared, *raw.get("parameters", [])]
        body = next((p for p in raw_params if p.get("in") == "body"), None)
        return Operation(
            api=self.api,
            operation_id=raw["operationId"],
            method=method.upper(),
            path=path,
            params=tuple(
                Param.from_swagger(p) for p in raw_params if p.get("in") in ("query", "path")
            ),
            body_schema=body.get("schema") if body else None,
            produces=(raw.get("produces") or [produces])[0],
            rate_limit=parse_rate_limit(raw.get("description", "")),
        )

    def validator(self, schema: dict[str, Any]) -> Draft4Validator:
        # Swagger 2.0 schemas are a JSON Schema draft 4 dialect; embedding the
        # definitions lets "#/definitions/..." references resolve.
        return Draft4Validator({"allOf": [schema], "definitions": self.definitions})


@cache
def model_document(api: str) -> dict[str, Any]:
    """One API's vendored model, read once per process (never written to)."""
    folder = resources.files("keybuzz_double_amazon") / "spapi_models"
    document: dict[str, Any] = json.loads((folder / MODEL_FILES[api]).read_text(encoding="utf-8"))
    return document


class ModelRegistry:
    def __init__(self) -> None:
        self.apis = {api: ApiModel(api, model_document(api)) for api in MODEL_FILES}

    def operation(self, api: str, operation_id: str) -> Operation:
        return self.apis[api].operations[operation_id]

    def all_operations(self) -> list[Operation]:
        return [op for model in self.apis.values() for op in model.operations.values()]
