"""The eBay double: eBay's consent page, token endpoint, Identity, Message and Fulfillment
APIs under /ebay, its admin under /_sandbox/ebay; declared here, its constants and settings
env.py's."""

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
