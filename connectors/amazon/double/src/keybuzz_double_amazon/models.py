"""Amazon's SP-API Swagger 2.0 models (vendored in spapi_models/), the contract the double
kit's ``swagger`` reads; each operation's rate limit from its description's table."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from keybuzz_sandbox.double_kit.swagger import Operation, SwaggerModel
from keybuzz_sandbox.ratelimit import RateLimit

# Short API name used in operation keys ("ordersV0.getOrders") -> its file.
MODEL_FILES: dict[str, str] = {
    "ordersV0": "ordersV0.json",
    "orders2026": "orders_2026-01-01.json",
    "reports": "reports_2021-06-30.json",
    "messaging": "messaging.json",
    "sellers": "sellers.json",
    "notifications": "notifications.json",
}

_RATE_TABLE = re.compile(
    r"\|\s*Rate \(requests per second\)\s*\|\s*Burst\s*\|\s*\n\s*\|[-\s|]+\|\s*\n\s*\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|"
)


@cache
def model_document(api: str) -> dict[str, Any]:
    """One API's vendored model, read once per process (never written to)."""
    folder = resources.files("keybuzz_double_amazon") / "spapi_models"
    document: dict[str, Any] = json.loads((folder / MODEL_FILES[api]).read_text(encoding="utf-8"))
    return document


APIS = {api: SwaggerModel(api, model_document(api)) for api in MODEL_FILES}
OPERATIONS: dict[str, Operation] = {
    op.key: op for model in APIS.values() for op in model.operations.values()
}
# None: the model documents no rate (sendInvoice).
RATE_LIMITS: dict[str, RateLimit | None] = {
    key: RateLimit(m[1], int(m[2])) if (m := _RATE_TABLE.search(op.description)) else None
    for key, op in OPERATIONS.items()
}
