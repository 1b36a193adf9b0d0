"""Kaufland's OpenAPI description of its Seller API (openapi/), as the double reads what
sellers send and the tests check what the double answers (the double kit's
``Described``): its OpenAPI 3.0 ``nullable`` read as JSON Schema's draft 4 says it."""

from __future__ import annotations

from keybuzz_sandbox.double_kit.described import Described, nullable

DESCRIBED = Described(
    "urn:kaufland:seller",
    "keybuzz_double_kaufland",
    "kaufland-seller-api-v2.27.0.json",
    correct=nullable,
)
