"""The Cdiscount double: Octopia's seller API v2 (token, discussions, messages, orders)."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import CdiscountDoubleSettings, service_env

DOUBLE = Double(
    "cdiscount",
    service_env,
    settings=CdiscountDoubleSettings,
    routes_at="keybuzz_double_cdiscount.routes:cdiscount_routes",
    drivers_at="keybuzz_double_cdiscount.driver:CdiscountDriver",
    marketplaces=("CDISCOUNT",),
)
