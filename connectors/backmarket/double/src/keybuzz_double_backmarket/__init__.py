"""The Back Market double: sellers' care folders (after-sales requests and their
messages) and orders on Back Market's EU platform, under /backmarket; what points a service
at it (its package's ``service_env``) and its own settings (``SANDBOX_BACKMARKET_<FIELD>``,
read by ``config.double_settings``)."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.settings import ShopsSettings, api_at


class BackMarketDoubleSettings(ShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_BACKMARKET_EXTRA_SHOPS``: small shops beyond the seeded ones (shops.py)."""


service_env = api_at("BACKMARKET_EU_URL", "/backmarket")
DOUBLE = Double(
    "backmarket",
    service_env,
    settings=BackMarketDoubleSettings,
    routes_at="keybuzz_double_backmarket.routes:backmarket_routes",
    drivers_at="keybuzz_double_backmarket.driver:BackMarketDriver",
    marketplaces=("BACKMARKET",),
)
