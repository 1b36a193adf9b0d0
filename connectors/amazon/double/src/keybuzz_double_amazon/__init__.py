"""The Amazon double (docs/SANDBOX.md)."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import AmazonDoubleSettings, service_env
from .seed import MARKETPLACES

# It has no shop-API conformance driver: its mail relay has the relay side of the suite.
DOUBLE = Double(
    "amazon",
    service_env,
    routes_at="keybuzz_double_amazon.routes:amazon_routes",
    relay_drivers_at="keybuzz_double_amazon.relay_driver:relay_drivers",
    settings=AmazonDoubleSettings,
    # SANDBOX_CLIENT_ID, SANDBOX_APP_ROLES…: its settings' names carry no double's name.
    settings_prefix="SANDBOX_",
    # Buyers' anonymised aliases, one domain per marketplace (…@marketplace.amazon.fr).
    reply_domains=tuple(sorted({m.relay_domain for m in MARKETPLACES.values()})),
    reply_relay_at="keybuzz_double_amazon.reply_relay:listening_at",
    # SP-API's paths are at the sandbox's root: an unknown one gets SP-API's 404.
    unknown_path_at="keybuzz_double_amazon.errors:not_found_response",
)
