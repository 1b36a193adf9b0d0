"""Back Market's OpenAPI description of its seller API (openapi/), as the double reads
what sellers send and the tests check what the double answers. Its object schemas allow
any extra field, so a renamed optional field would pass them: here every object schema
that lists its properties is closed, and where the description contradicts itself it is
corrected (``CORRECTIONS``, with Back Market's words)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from keybuzz_sandbox.described import Described, problems, published, reference, strict_copy
from referencing.jsonschema import DRAFT4

SPEC_URI = "urn:backmarket:seller"
# (schema, property, Back Market's words for it, why it is made nullable): the care
# folders' list pages as its orders' list does, whose `next`/`previous` are nullable.
CORRECTIONS = (
    ("getCareFolderListResponse", "next", "URL to the next page", "no next page: null"),
    ("getCareFolderListResponse", "previous", "URL to the previous page", "example 'null'"),
)


def raw_spec() -> dict[str, Any]:
    """The description as Back Market published it (the operations the double serves)."""
    return published("keybuzz_double_backmarket", "backmarket-seller-openapi.json")


def _correct(schemas: dict[str, Any]) -> None:
    for name, field, words, _ in CORRECTIONS:
        declared = schemas[name]["properties"][field]
        if declared.get("description") != words:
            raise ValueError(f"{name}.{field}: Back Market's words changed, check the correction")
        declared["nullable"] = True


@cache
def strict_spec() -> dict[str, Any]:
    return strict_copy(raw_spec(), _correct, paths=True)


DESCRIBED = Described(SPEC_URI, strict_spec, DRAFT4)
registry = DESCRIBED.registry
operation = DESCRIBED.operation
schema_at = DESCRIBED.schema_at


@cache
def _form_validator(operation_id: str) -> Draft4Validator:
    where = ("requestBody", "content", "multipart/form-data", "schema")
    return DESCRIBED.validator(Draft4Validator, operation_id, *where)


def form_problems(operation_id: str, form: dict[str, Any]) -> list[str]:
    """What is wrong with a multipart request's fields (files as their names), by the
    description."""
    return problems(_form_validator(operation_id).iter_errors(form), "form")


@cache
def query_parameters(operation_id: str) -> dict[str, tuple[dict[str, Any], str]]:
    """The query parameters an operation takes, by the description: name → (schema, its
    JSON pointer in the description)."""
    path, method, op = operation(operation_id)
    named = {}
    for index, parameter in enumerate(op.get("parameters", ())):
        where = f"{reference(SPEC_URI, path, method, 'parameters', str(index))['$ref']}/schema"
        if "$ref" in parameter:
            name = parameter["$ref"].split("/")[-1]
            parameter = strict_spec()["components"]["parameters"][name]
            where = f"{SPEC_URI}#/components/parameters/{name}/schema"
        if parameter.get("in") == "query":
            named[parameter["name"]] = (parameter["schema"], where)
    return named


def _typed(raw: str, schema: dict[str, Any]) -> Any:
    """A query value as the type its schema declares (integers as numbers when they are)."""
    declared = schema.get("type")
    if "$ref" in schema:
        declared = strict_spec()["components"]["schemas"][schema["$ref"].split("/")[-1]]["type"]
    if declared == "integer" and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def query_problems(operation_id: str, query: Mapping[str, str]) -> list[str]:
    """What is wrong with a request's query by the description: parameters it does not
    name, values not of their parameter's schema (type, enum, maximum)."""
    known = query_parameters(operation_id)
    problems = [f"unknown query parameter {name}" for name in sorted(query) if name not in known]
    for name, raw in sorted(query.items()):
        if name in known:
            value = _typed(raw, known[name][0])
            problems += [
                f"{name}: {e.message}" for e in _parameter(operation_id, name).iter_errors(value)
            ]
    return problems


@cache
def _parameter(operation_id: str, name: str) -> Draft4Validator:
    where = query_parameters(operation_id)[name][1]
    return Draft4Validator({"$ref": where}, registry=registry())
