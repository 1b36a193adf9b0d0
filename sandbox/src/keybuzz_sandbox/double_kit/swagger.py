"""A marketplace's published Swagger 2.0 models, as its double routes and checks what callers
send (docs/SANDBOX.md, the double kit). A value off the model is ``api.Refused`` 400."""

from __future__ import annotations

from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from jsonschema import Draft4Validator

from keybuzz_sandbox.clock import parse_iso
from keybuzz_sandbox.double_kit.api import Refused

HTTP_METHODS = ("get", "post", "put", "delete", "patch")
# A query parameter's keywords that bound its value (JSON Schema's, in Swagger 2.0).
BOUNDS = ("enum", "maxItems", "minItems", "minimum", "maximum")


class Param(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    required: bool = False
    type: str | None = None
    items_type: str | None = None
    # The value's bounds as the model states them (enum, item counts, minimum…), once parsed.
    bounds: Draft4Validator | None = None
    # Some models' dates carry no `format`, only "ISO 8601" in the description.
    is_datetime: bool = False

    @classmethod
    def from_swagger(cls, raw: dict[str, Any]) -> Param:
        items = raw.get("items") or {}
        bounds = {k: raw[k] for k in BOUNDS if k in raw}
        if "enum" in items:
            bounds["items"] = {"enum": items["enum"]}
        return cls(
            name=raw["name"],
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
    query: dict[str, Param]  # the query parameters, by name
    body_schema: dict[str, Any] | None
    produces: str
    description: str

    @property
    def key(self) -> str:
        return f"{self.api}.{self.operation_id}"


class SwaggerModel:
    """One Swagger document (``api``: its short name in operation keys) and its operations."""

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
            query={p["name"]: Param.from_swagger(p) for p in raw_params if p.get("in") == "query"},
            body_schema=body.get("schema") if body else None,
            produces=(raw.get("produces") or [produces])[0],
            description=raw.get("description", ""),
        )

    def body(self, op: Operation, raw: bytes) -> Any:
        """The operation's JSON body, checked against its schema (None when it takes none)."""
        if op.body_schema is None:
            return None
        try:
            body = msgspec.json.decode(raw) if raw else None
        except msgspec.DecodeError:
            raise Refused(400, "The request body is not valid JSON.") from None
        if body is None:
            raise Refused(400, "A request body is required.")
        # Swagger 2.0 schemas are a JSON Schema draft 4 dialect; embedding the
        # definitions lets "#/definitions/..." references resolve.
        validator = Draft4Validator({"allOf": [op.body_schema], "definitions": self.definitions})
        error = next(iter(validator.iter_errors(body)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "body"
            raise Refused(400, f"Invalid request body at '{where}': {error.message}")
        return body


# --- the query -----------------------------------------------------------------------


def _scalar(param: Param, raw: str, kind: str | None) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if param.is_datetime:
            return parse_iso(raw)
    except ValueError:
        raise Refused(400, f"Invalid value '{raw}' for parameter '{param.name}'.") from None
    return raw


def _convert(param: Param, raws: list[str]) -> Any:
    if param.type == "array":
        # Swagger 2.0's default collectionFormat is csv; repeated keys are accepted too.
        items = [part for raw in raws for part in raw.split(",") if part != ""]
        return [_scalar(param, item, param.items_type) for item in items]
    if len(raws) > 1:
        raise Refused(400, f"Parameter '{param.name}' was given more than once.")
    return _scalar(param, raws[0], param.type)


def parse_query(op: Operation, query_string: str) -> dict[str, Any]:
    """The operation's parameters in ``query_string``, typed; the others ignored (as
    marketplaces whose clients add their usual parameters to every call do)."""
    declared = op.query
    given: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name in declared:
            given.setdefault(name, []).append(value)
    parsed: dict[str, Any] = {}
    for name, param in declared.items():
        if name not in given:
            if param.required:
                raise Refused(400, f"Missing required parameter '{name}'.")
            continue
        value = _convert(param, given[name])
        error = next(param.bounds.iter_errors(value), None) if param.bounds else None
        if error is not None:
            raise Refused(400, f"Invalid value for parameter '{param.name}': {error.message}.")
        parsed[name] = value
    return parsed
