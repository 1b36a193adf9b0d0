"""Back Market's OpenAPI description of its seller API (openapi/), as the double reads
what sellers send and the tests check what the double answers (the double kit's
``Described``): where the description contradicts itself it is corrected
(``CORRECTIONS``, with Back Market's words)."""

from __future__ import annotations

from typing import Any

from keybuzz_sandbox.double_kit.described import Described

# (schema, property, Back Market's words for it, why it is made nullable): the care
# folders' list pages as its orders' list does, whose `next`/`previous` are nullable.
CORRECTIONS = (
    ("getCareFolderListResponse", "next", "URL to the next page", "no next page: null"),
    ("getCareFolderListResponse", "previous", "URL to the previous page", "example 'null'"),
)


def _correct(spec: dict[str, Any]) -> dict[str, Any]:
    for name, field, words, _ in CORRECTIONS:
        declared = spec["components"]["schemas"][name]["properties"][field]
        if declared.get("description") != words:
            raise ValueError(f"{name}.{field}: Back Market's words changed, check the correction")
        declared["nullable"] = True
    return spec


DESCRIBED = Described(
    "urn:backmarket:seller",
    "keybuzz_double_backmarket",
    "backmarket-seller-openapi.json",
    correct=_correct,
)
