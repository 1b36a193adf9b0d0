"""The Mirakl double: several operators' instances of Mirakl's seller API (threads,
messages, orders, shop statistics), each under /mirakl/<operator>."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import MiraklDoubleSettings, service_env

DOUBLE = Double(
    "mirakl",
    service_env,
    settings=MiraklDoubleSettings,
    routes_at="keybuzz_double_mirakl.routes:mirakl_routes",
    drivers_at="keybuzz_double_mirakl.driver:operated",
    marketplaces=("BOULANGER",),
    listers_at="keybuzz_double_mirakl.driver:lister",
)
