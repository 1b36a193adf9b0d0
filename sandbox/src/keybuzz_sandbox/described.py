"""Reading a marketplace's OpenAPI description the way the doubles and their tests check
against it: object schemas closed (descriptions allow any extra field, so a renamed
optional field would pass), operations found by id, and references to a schema inside an
operation for a validator over the description's registry."""

from __future__ import annotations

from typing import Any

COMPOSITIONS = ("allOf", "anyOf", "oneOf", "$ref")


def close_objects(schema: Any) -> None:
    """Every object schema below ``schema`` that lists its properties allows no other."""
    if isinstance(schema, dict):
        if "properties" in schema and not any(k in schema for k in COMPOSITIONS):
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            close_objects(value)
    elif isinstance(schema, list):
        for value in schema:
            close_objects(value)


def find_operation(spec: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(path, method, operation object) of the operation with ``operation_id``."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return path, method, op
    raise KeyError(operation_id)


def reference(uri: str, path: str, method: str, *where: str) -> dict[str, Any]:
    """A schema pointing at ``where`` inside the operation at ``path``/``method`` of the
    description registered as ``uri``."""
    parts = ("paths", path, method, *where)
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    return {"$ref": f"{uri}#/{pointer}"}
