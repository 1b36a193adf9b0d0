"""The Back Market double: sellers' care folders (after-sales requests and their
messages) and orders on Back Market's EU platform, under /backmarket."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import BackMarketDoubleSettings, service_env

DOUBLE = Double(
    "backmarket",
    service_env,
    settings=BackMarketDoubleSettings,
    routes_at="keybuzz_double_backmarket.routes:backmarket_routes",
    drivers_at="keybuzz_double_backmarket.driver:BackMarketDriver",
    marketplaces=("BACKMARKET",),
)
