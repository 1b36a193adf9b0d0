"""Mirakl's OpenAPI description of the seller API (openapi/), as the double checks what
shops send and the tests check what the double answers (the double kit's ``Described``):
its quirks here, a string's values Mirakl lists in its words are its enum, and where the
description contradicts its own words it is corrected (``CORRECTIONS``)."""

from __future__ import annotations

import re
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
