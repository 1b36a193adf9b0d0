"""The Kaufland double: sellers' tickets (buyer messages) across their storefronts and
their orders on Kaufland's Seller API v2, under /kaufland/v2, every request's signature
verified."""

from __future__ import annotations

from typing import Annotated

import msgspec
from keybuzz_sandbox.double_entry import Double

API = "/kaufland/v2"
FILES = "/kaufland/files"


class KauflandDoubleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``SANDBOX_KAUFLAND_EXTRA_SHOPS``: small sellers beyond the seeded ones, each with one
    order and no ticket (a poll of one lists nothing)."""

    extra_shops: Annotated[int, msgspec.Meta(ge=0)] = 0


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Kaufland connector's settings for a sandbox at ``sandbox_url`` (the sellers and
    their keys are listed at GET /_sandbox/kaufland/shops)."""
    return {"KAUFLAND_API_URL": f"{sandbox_url}{API}"}


DOUBLE = Double(
    "kaufland",
    service_env,
    settings=KauflandDoubleSettings,
    routes_at="keybuzz_double_kaufland.routes:routes",
    drivers_at="keybuzz_double_kaufland.driver:drivers",
)
