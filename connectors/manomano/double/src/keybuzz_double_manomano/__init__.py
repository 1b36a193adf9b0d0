"""The ManoMano double: its mail relay and its partner API's orders (docs/MANOMANO.md)."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import REPLY_DOMAINS, ManoManoDoubleSettings, service_env

DOUBLE = Double(
    "manomano",
    service_env,
    settings=ManoManoDoubleSettings,
    routes_at="keybuzz_double_manomano.routes:manomano_routes",
    relay_drivers_at="keybuzz_double_manomano.driver:relay_drivers",
    listers_at="keybuzz_double_manomano.driver:lister",
    reply_domains=REPLY_DOMAINS,
    reply_relay_at="keybuzz_double_manomano.relay:listening_at",
)

__all__ = ["DOUBLE", "service_env"]
