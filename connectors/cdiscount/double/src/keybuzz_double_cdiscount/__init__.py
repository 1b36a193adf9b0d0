"""The Cdiscount double: Octopia's seller API v2 (token, discussions, messages, orders); what
points a service at it (its package's ``service_env``) and its own settings
(``SANDBOX_CDISCOUNT_<FIELD>``, read by ``config.double_settings``)."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.settings import BenchedShopsSettings


class CdiscountDoubleSettings(BenchedShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_CDISCOUNT_BENCH_ORDERS``: orders in 90 days of its largest shop;
    ``SANDBOX_CDISCOUNT_EXTRA_SHOPS``: its small shops beyond the seeded ones (shops.py)."""


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Cdiscount connector's settings for a sandbox at ``sandbox_url``: Octopia's API
    and its token endpoint, both on the sandbox's port under /octopia."""
    return {
        "CDISCOUNT_API_URL": f"{sandbox_url}/octopia/seller/v2/",
        "CDISCOUNT_AUTH_URL": f"{sandbox_url}/octopia/auth/realms/maas/protocol/openid-connect/token",
    }


DOUBLE = Double(
    "cdiscount",
    service_env,
    settings=CdiscountDoubleSettings,
    routes_at="keybuzz_double_cdiscount.routes:cdiscount_routes",
    drivers_at="keybuzz_double_cdiscount.driver:CdiscountDriver",
    marketplaces=("CDISCOUNT",),
)
