"""Mirakl's OpenAPI description of the seller API (openapi/), as the double checks what
shops send and the tests check what the double answers (the double kit's ``Described``):
its quirks here, a string's values Mirakl lists in its words are its enum, and where the
description contradicts its own words it is corrected (``CORRECTIONS``)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from functools import cache, partial
from typing import Any

from jsonschema import Draft202012Validator
from keybuzz_sandbox.double_kit.described import Described

# Query parameters Mirakl's guide documents outside the description: seek paging (M11),
# offset paging and sort (OR11), and the locale of localized answers (every operation).
GUIDE_PARAMETERS = {
    "*": ("locale",),
    "M11": ("limit", "page_token"),
    "OR11": ("max", "offset", "sort", "order"),
}
NULL_WHEN_REPLIED = "Null when the shop has replied."
# (schema, property, the type allowed besides the declared one, Mirakl's words for it)
CORRECTIONS = (
    ("M11_Response_200_Data_Metadata", "shop_reply_needed_since", "null", NULL_WHEN_REPLIED),
    ("M10_Response_200_Metadata", "shop_reply_needed_since", "null", NULL_WHEN_REPLIED),
)
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


def _correct(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    _worded_enums(schemas)
    for name, field, extra, words in CORRECTIONS:
        declared = schemas[name]["properties"][field]
        if words not in declared["description"]:
            raise ValueError(f"{name}.{field}: Mirakl's words changed, check the correction")
        declared["type"] = [declared["type"], extra]
    return spec


DESCRIBED = Described(
    "urn:mirakl:mmp-seller",
    "keybuzz_double_mirakl",
    "mirakl-mmp-seller-openapi.json",
    Draft202012Validator,
    correct=_correct,
    undocumented=GUIDE_PARAMETERS,
)


# A type's empty value, where the double has none of its own to give (each answer its own).
EMPTY = {"string": str, "number": float, "integer": int, "boolean": bool, "array": list}


def filled(schema: str, given: dict[str, Any]) -> dict[str, Any]:
    """An answer's object of ``schema``: ``given`` (what the double has to say), with each
    property the description requires and ``given`` lacks at its empty value (a listed
    value's first, an empty list, an object filled alike): the fields nobody here reads,
    in the shape Mirakl's answers have, read from the description, not written out."""
    empty, objects = _required(schema)
    whole = given | {name: made() for name, made in empty.items() if name not in given}
    for name, inner in objects.items():
        if isinstance(whole[name], dict):
            whole[name] = filled(inner, whole[name])
    return whole


@cache
def _required(schema: str) -> tuple[dict[str, Callable[[], Any]], dict[str, str]]:
    """What makes each property ``schema`` requires at its empty value (an object's ``{}``,
    filled then), and which are objects of their own schema: read once a schema."""
    schemas = DESCRIBED.spec()["components"]["schemas"]
    empty: dict[str, Callable[[], Any]] = {}
    objects: dict[str, str] = {}
    for name in schemas[schema].get("required", ()):
        field = schemas[schema]["properties"][name]
        if ref := field.get("$ref"):
            empty[name], objects[name] = dict, ref.rsplit("/", 1)[-1]
        elif "enum" in field:
            empty[name] = partial(copy.copy, field["enum"][0])
        else:
            empty[name] = EMPTY[field["type"]]
    return empty, objects
