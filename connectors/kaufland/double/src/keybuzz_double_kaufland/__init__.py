"""The Kaufland double: sellers' tickets (buyer messages) across their storefronts and
their orders on Kaufland's Seller API v2, under /kaufland/v2, every request's signature
verified."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.settings import ShopsSettings, api_at

API = "/kaufland/v2"
FILES = "/kaufland/files"


class KauflandDoubleSettings(ShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_KAUFLAND_EXTRA_SHOPS``: small sellers beyond the seeded ones, each with one
    order and no ticket (a poll of one lists nothing)."""


service_env = api_at("KAUFLAND_API_URL", API)


DOUBLE = Double(
    "kaufland",
    service_env,
    settings=KauflandDoubleSettings,
    routes_at="keybuzz_double_kaufland.routes:routes",
    drivers_at="keybuzz_double_kaufland.driver:KauflandDriver",
    marketplaces=("KAUFLAND",),
)
