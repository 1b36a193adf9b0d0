"""A request's query and JSON body checked against its operation's model: names,
requiredness, types and bounds all from the Swagger, nothing listed per operation."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from keybuzz_sandbox.clock import parse_iso

from .errors import invalid_input
from .models import ApiModel, Operation, Param


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
        raise invalid_input(f"Invalid value '{raw}' for parameter '{param.name}'.") from None
    return raw


def _check_bounds(param: Param, value: Any) -> None:
    error = next(param.bounds.iter_errors(value), None) if param.bounds else None
    if error is not None:
        raise invalid_input(f"Invalid value for parameter '{param.name}': {error.message}.")


def _convert(param: Param, raws: list[str]) -> Any:
    if param.type == "array":
        # Swagger 2.0's default collectionFormat is csv; repeated keys are accepted too.
        items = [part for raw in raws for part in raw.split(",") if part != ""]
        return [_scalar(param, item, param.items_type) for item in items]
    if len(raws) > 1:
        raise invalid_input(f"Parameter '{param.name}' was given more than once.")
    return _scalar(param, raws[0], param.type)


def parse_query(op: Operation, query_string: str) -> dict[str, Any]:
    declared = op.query_params()
    given: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        # Amazon ignores parameters an operation does not define (widely used
        # clients add MarketplaceIds & co. to every GET), so only declared ones count.
        if name in declared:
            given.setdefault(name, []).append(value)
    parsed: dict[str, Any] = {}
    for name, param in declared.items():
        if name not in given:
            if param.required:
                raise invalid_input(f"Missing required parameter '{name}'.")
            continue
        value = _convert(param, given[name])
        _check_bounds(param, value)
        parsed[name] = value
    return parsed


def parse_body(model: ApiModel, op: Operation, raw: bytes) -> Any:
    if op.body_schema is None:
        return None
    try:
        body = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        raise invalid_input("The request body is not valid JSON.") from None
    if body is None:
        raise invalid_input("A request body is required.")
    error = next(iter(model.validator(op.body_schema).iter_errors(body)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "body"
        raise invalid_input(f"Invalid request body at '{where}': {error.message}")
    return body
