"""Kaufland's OpenAPI description of its Seller API (openapi/), as the double reads what
sellers send and the tests check what the double answers: every object schema that lists
its properties closed (a renamed field fails), operations found by id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from keybuzz_sandbox.described import Described, problems, published, strict_copy
from referencing.jsonschema import DRAFT4

SPEC_URI = "urn:kaufland:seller"


def raw_spec() -> dict[str, Any]:
    return published("keybuzz_double_kaufland", "kaufland-seller-api-v2.27.0.json")


def nullable(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema says it (draft 4 knows no such word): a
    typed schema's type or null, another one (a reference, a composition) or null."""
    if isinstance(schema, list):
        return [nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    found = {k: nullable(v) for k, v in schema.items()}
    if found.pop("nullable", False) is not True:
        return found
    if isinstance(found.get("type"), str):
        return found | {"type": [found["type"], "null"]}
    return {"anyOf": [found, {"type": "null"}]}


@cache
def strict_spec() -> dict[str, Any]:
    return strict_copy(nullable(raw_spec()), lambda schemas: None, paths=True)


DESCRIBED = Described(SPEC_URI, strict_spec, DRAFT4)


@cache
def _validator(operation_id: str, *where: str) -> Draft4Validator:
    return DESCRIBED.validator(Draft4Validator, operation_id, *where)


def body_problems(operation_id: str, body: Any) -> list[str]:
    """What is wrong with a request's JSON body, by the description."""
    where = ("requestBody", "content", "application/json", "schema")
    return problems(_validator(operation_id, *where).iter_errors(body), "body")


def answer_problems(operation_id: str, status: str, body: Any) -> list[str]:
    """What is wrong with an answer's JSON body, by the description."""
    where = ("responses", status, "content", "application/json", "schema")
    return problems(_validator(operation_id, *where).iter_errors(body), "answer")


def _typed(raw: str, schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        schema = strict_spec()["components"]["schemas"][schema["$ref"].split("/")[-1]]
    if schema.get("type") == "integer" and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def query_problems(operation_id: str, query: Mapping[str, Sequence[str]]) -> list[str]:
    """Parameters the operation does not name, values off their schema (an array's items
    as its values repeated, OpenAPI's default ``form``/``explode``, or comma-separated)."""
    _, _, op = DESCRIBED.operation(operation_id)
    known = {p["name"]: p for p in op.get("parameters", ()) if p.get("in") == "query"}
    found = [f"unknown query parameter {name}" for name in sorted(query) if name not in known]
    for index, parameter in enumerate(op.get("parameters", ())):
        name = parameter["name"]
        if parameter.get("in") != "query" or name not in query:
            continue
        schema = parameter["schema"]
        values = query[name]
        many = schema.get("type") == "array"
        item = schema.get("items", {}) if many else schema
        # An array repeated (form, explode) or comma-separated, as the description's own
        # words say of ``embedded`` ("a string of comma-separated values").
        split = [part for v in values for part in v.split(",")]
        value: Any = [_typed(v, item) for v in split] if many else _typed(values[-1], item)
        if not many and len(values) > 1:
            found.append(f"{name}: given {len(values)} times")
        errors = _validator(operation_id, "parameters", str(index), "schema").iter_errors(value)
        found += [f"{name}: {e.message}" for e in errors]
    return found
