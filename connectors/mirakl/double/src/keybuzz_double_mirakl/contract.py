"""Mirakl's OpenAPI description of the seller API (openapi/), as the double checks what
shops send and the tests check what the double answers. Mirakl's object schemas allow any
extra field, so a renamed optional field would pass them: here every object schema that
lists its properties is closed, a string's values Mirakl lists in its words are its enum,
and where the description contradicts its own words it is corrected (``CORRECTIONS``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from keybuzz_sandbox.described import Described, problems, published, strict_copy
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:mirakl:mmp-seller"
# Query parameters Mirakl's guide documents outside the description: seek paging (M11),
# offset paging and sort (OR11), and the locale of localized answers.
GUIDE_PARAMETERS = {"M11": ("limit", "page_token"), "OR11": ("max", "offset", "sort", "order")}
COMMON_PARAMETERS = ("locale",)
NULL_WHEN_REPLIED = "Null when the shop has replied."
# (schema, property, the type allowed besides the declared one, Mirakl's words for it)
CORRECTIONS = (
    ("M11_Response_200_Data_Metadata", "shop_reply_needed_since", "null", NULL_WHEN_REPLIED),
    ("M10_Response_200_Metadata", "shop_reply_needed_since", "null", NULL_WHEN_REPLIED),
)


def raw_spec() -> dict[str, Any]:
    """The description as Mirakl published it."""
    return published("keybuzz_double_mirakl", "mirakl-mmp-seller-openapi.json")


# A string's values as Mirakl's words list them: "Enum: `"OPERATOR"`, `"SHOP"`".
WORDED_ENUM = re.compile(r"Enum: ((?:`\"[^`\"]+\"`(?:, )?)+)")


def _worded_enums(schema: Any) -> None:
    """Each string whose description lists its values gets them as its enum: what a shop
    sends and the double answers is then held to them by the description itself."""
    if isinstance(schema, dict):
        worded = WORDED_ENUM.search(str(schema.get("description", "")))
        if schema.get("type") == "string" and worded and "enum" not in schema:
            schema["enum"] = re.findall(r'"([^"]+)"', worded.group(1))
        for value in schema.values():
            _worded_enums(value)


def _correct(schemas: dict[str, Any]) -> None:
    _worded_enums(schemas)
    for name, field, extra, words in CORRECTIONS:
        declared = schemas[name]["properties"][field]
        if words not in declared["description"]:
            raise ValueError(f"{name}.{field}: Mirakl's words changed, check the correction")
        declared["type"] = [declared["type"], extra]


@cache
def strict_spec() -> dict[str, Any]:
    return strict_copy(raw_spec(), _correct)


DESCRIBED = Described(SPEC_URI, strict_spec, DRAFT202012)
registry = DESCRIBED.registry
operation = DESCRIBED.operation
schema_at = DESCRIBED.schema_at


@cache
def _part_validator(operation_id: str, part: str) -> Draft202012Validator:
    where = ("requestBody", "content", "multipart/form-data", "schema", "properties", part)
    return DESCRIBED.validator(Draft202012Validator, operation_id, *where)


def part_problems(operation_id: str, part: str, value: Any) -> list[str]:
    """What is wrong with a multipart request's JSON part, by the description."""
    return problems(_part_validator(operation_id, part).iter_errors(value), part)


@cache
def query_parameters(operation_id: str) -> frozenset[str]:
    """The query parameters an operation takes, by the description and Mirakl's guide."""
    _, _, op = operation(operation_id)
    named = {p["name"] for p in op.get("parameters", ()) if p.get("in") == "query"}
    return frozenset(named | set(GUIDE_PARAMETERS.get(operation_id, ())) | set(COMMON_PARAMETERS))


def unknown_parameters(operation_id: str, names: Iterable[str]) -> list[str]:
    known = query_parameters(operation_id)
    return sorted(name for name in names if name not in known)


# --- a request as Mirakl's description has it (the tests' check of what clients send) -----


def _matches(template: str, path: str) -> bool:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and w.endswith("}") and g)
        for w, g in zip(want, got, strict=True)
    )


def operation_at(method: str, path: str) -> str | None:
    """The operation code of ``method`` on ``path`` (under an operator's base URL, e.g.
    ``/api/inbox/threads``), or None when the description has none. A literal segment is
    preferred to a template (``/api/orders`` is OR11 whatever a template matches)."""
    found = [
        (template.count("{"), op["operationId"])
        for template, item in strict_spec()["paths"].items()
        for verb, op in item.items()
        if verb == method.lower() and isinstance(op, dict) and _matches(template, path)
    ]
    return min(found)[1] if found else None


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A query value as the JSON value its schema describes (form style, comma lists)."""
    kind = schema.get("type")
    if kind == "array":
        return [_typed(v, schema.get("items", {})) for v in value.split(",")]
    if kind == "integer" and value.lstrip("-").isdigit():
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def query_problems(operation_id: str, query: Mapping[str, str]) -> list[str]:
    """Unknown query parameters, and documented ones whose value is off their schema."""
    unknown = [f"unknown query parameter {n}" for n in unknown_parameters(operation_id, query)]
    return unknown + value_problems(operation_id, query)


def value_problems(operation_id: str, query: Mapping[str, str]) -> list[str]:
    """Documented query parameters whose value is off their schema (a date that is not
    RFC 3339, a boolean that is not true/false, a shop id that is not an integer)."""
    from jsonschema import FormatChecker

    problems: list[str] = []
    _, _, op = operation(operation_id)
    for parameter in op.get("parameters", ()):
        name = parameter.get("name")
        if parameter.get("in") != "query" or name not in query:
            continue
        schema = parameter.get("schema", {})
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        problems += [
            f"{name}: {e.message}" for e in validator.iter_errors(_typed(query[name], schema))
        ]
    return problems
