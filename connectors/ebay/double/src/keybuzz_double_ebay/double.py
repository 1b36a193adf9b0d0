"""The eBay double, declared: its settings, routes (routes.py, on its state, state.py) and
conformance driver (driver.py); its constants and settings (env.py) are named here too."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import (
    APP_CALLS_PER_DAY,
    GRANTS_PER_DAY,
    RU_NAME,
    EbayDoubleSettings,
    consent_fields,
    service_env,
)

DOUBLE = Double(
    "ebay",
    service_env,
    settings=EbayDoubleSettings,
    routes_at="keybuzz_double_ebay.routes:routes",
    drivers_at="keybuzz_double_ebay.driver:drivers",
)

__all__ = [
    "APP_CALLS_PER_DAY",
    "DOUBLE",
    "GRANTS_PER_DAY",
    "RU_NAME",
    "EbayDoubleSettings",
    "consent_fields",
    "service_env",
]
