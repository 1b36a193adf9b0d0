"""eBay's OpenAPI descriptions (openapi/), as the double reads what sellers send and the
tests check what it answers: every object schema that lists its properties closed."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from keybuzz_sandbox.described import Described, problems, published, strict_copy
from referencing.jsonschema import DRAFT4

DOCUMENTS = {
    "message": "commerce_message_v1_oas3.json",
    "fulfillment": "sell_fulfillment_v1_oas3.json",
    "identity": "commerce_identity_v1_oas3.json",
}


@cache
def strict(api: str) -> dict[str, Any]:
    """The description as eBay published it, its object schemas closed (none corrected)."""
    return strict_copy(published("keybuzz_double_ebay", DOCUMENTS[api]), lambda _: None)


def _described(api: str) -> Described:
    return Described(f"urn:ebay:{api}", lambda: strict(api), DRAFT4)


DESCRIBED = {api: _described(api) for api in DOCUMENTS}


def query_problems(api: str, operation_id: str, query: dict[str, str]) -> list[str]:
    """Query parameters the operation does not name, and required ones missing."""
    _, _, op = DESCRIBED[api].operation(operation_id)
    declared = {p["name"]: p for p in op.get("parameters", ()) if p.get("in") == "query"}
    unknown = [f"unknown query parameter {n}" for n in sorted(query) if n not in declared]
    missing = [
        f"{n} is required" for n, p in declared.items() if p.get("required") and n not in query
    ]
    return unknown + missing


def body_problems(api: str, operation_id: str, body: Any) -> list[str]:
    where = ("requestBody", "content", "application/json", "schema")
    validator = DESCRIBED[api].validator(Draft4Validator, operation_id, *where)
    return problems(validator.iter_errors(body), "body")


def answer_problems(api: str, operation_id: str, status: str, body: Any) -> list[str]:
    where = ("responses", status, "content", "application/json", "schema")
    validator = DESCRIBED[api].validator(Draft4Validator, operation_id, *where)
    return problems(validator.iter_errors(body), "answer")
