"""The Amazon double: Login with Amazon, Seller Central's consent, the SP-API operations
(Orders v0 and 2026-01-01, Reports, Tokens, Messaging, Sellers, Notifications over SQS),
its mail relay to the seller and its reply relay from them."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .marketplaces import MARKETPLACES


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Amazon connector's settings for a sandbox at ``sandbox_url``."""
    return {
        "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
        "SPAPI_ENDPOINT": sandbox_url,
        "SELLER_CENTRAL_URL": sandbox_url,
    }


# It has no shop-API conformance driver: its mail relay has the relay side of the suite.
DOUBLE = Double(
    "amazon",
    service_env,
    routes_at="keybuzz_double_amazon.routes:amazon_routes",
    relay_drivers_at="keybuzz_double_amazon.relay_driver:relay_drivers",
    # Buyers' anonymised aliases, one domain per marketplace (…@marketplace.amazon.fr).
    reply_domains=tuple(sorted({m.relay_domain for m in MARKETPLACES.values()})),
    reply_relay_at="keybuzz_double_amazon.reply_relay:listening_at",
)
