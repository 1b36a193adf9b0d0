"""eBay's OpenAPI descriptions (openapi/), one an API, as the double reads what sellers
send and the tests check what it answers (the double kit's ``Described``)."""

from __future__ import annotations

from keybuzz_sandbox.double_kit.described import Described

DOCUMENTS = {
    "message": "commerce_message_v1_oas3.json",
    "fulfillment": "sell_fulfillment_v1_oas3.json",
    "identity": "commerce_identity_v1_oas3.json",
}
DESCRIBED = {
    api: Described(f"urn:ebay:{api}", "keybuzz_double_ebay", document)
    for api, document in DOCUMENTS.items()
}
