"""The eBay double, declared: its settings, routes (routes.py, on its state, state.py) and
conformance driver (driver.py); its constants and settings are env.py's."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import EbayDoubleSettings, service_env

DOUBLE = Double(
    "ebay",
    service_env,
    settings=EbayDoubleSettings,
    routes_at="keybuzz_double_ebay.routes:routes",
    drivers_at="keybuzz_double_ebay.driver:EbayDriver",
    marketplaces=("EBAY",),
)
