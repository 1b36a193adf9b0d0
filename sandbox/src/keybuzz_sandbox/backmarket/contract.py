"""Back Market's OpenAPI description of its seller API (openapi/), as the double reads
what sellers send and the tests check what the double answers. Its object schemas allow
any extra field, so a renamed optional field would pass them: here every object schema
that lists its properties is closed, and where the description contradicts itself it is
corrected (``CORRECTIONS``, with Back Market's words)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from ..described import close_objects, find_operation, reference

SPEC_URI = "urn:backmarket:seller"
# (schema, property, Back Market's words for it, why it is made nullable): the care
# folders' list pages as its orders' list does, whose `next`/`previous` are nullable.
CORRECTIONS = (
    ("getCareFolderListResponse", "next", "URL to the next page", "no next page: null"),
    ("getCareFolderListResponse", "previous", "URL to the previous page", "example 'null'"),
)


def raw_spec() -> dict[str, Any]:
    """The description as Back Market published it (the operations the double serves)."""
    path = files("keybuzz_sandbox.backmarket") / "openapi" / "backmarket-seller-openapi.json"
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return spec


@cache
def strict_spec() -> dict[str, Any]:
    spec = copy.deepcopy(raw_spec())
    schemas = spec["components"]["schemas"]
    for name, field, words, _ in CORRECTIONS:
        declared = schemas[name]["properties"][field]
        if declared.get("description") != words:
            raise ValueError(f"{name}.{field}: Back Market's words changed, check the correction")
        declared["nullable"] = True
    close_objects(schemas)
    close_objects(spec["paths"])
    return spec


@cache
def registry() -> Registry[Any]:
    return Registry().with_resource(
        SPEC_URI, Resource.from_contents(strict_spec(), default_specification=DRAFT4)
    )


def operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(path, method, operation object) of one of Back Market's operation ids."""
    return find_operation(strict_spec(), operation_id)


def schema_at(operation_id: str, *where: str) -> dict[str, Any]:
    """A schema pointing at ``where`` inside the operation's object."""
    path, method, _ = operation(operation_id)
    return reference(SPEC_URI, path, method, *where)


@cache
def _form_validator(operation_id: str) -> Draft4Validator:
    where = ("requestBody", "content", "multipart/form-data", "schema")
    return Draft4Validator(schema_at(operation_id, *where), registry=registry())


def form_problems(operation_id: str, form: dict[str, Any]) -> list[str]:
    """What is wrong with a multipart request's fields (files as their names), by the
    description."""
    errors = _form_validator(operation_id).iter_errors(form)
    return [
        f"{'.'.join(map(str, e.absolute_path)) or 'form'}: {e.message}"
        for e in sorted(errors, key=str)
    ]


@cache
def query_parameters(operation_id: str) -> frozenset[str]:
    """The query parameters an operation takes, by the description."""
    _, _, op = operation(operation_id)
    named = set()
    for parameter in op.get("parameters", ()):
        if "$ref" in parameter:
            parameter = strict_spec()["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        if parameter.get("in") == "query":
            named.add(parameter["name"])
    return frozenset(named)


def unknown_parameters(operation_id: str, names: Iterable[str]) -> list[str]:
    known = query_parameters(operation_id)
    return sorted(name for name in names if name not in known)
