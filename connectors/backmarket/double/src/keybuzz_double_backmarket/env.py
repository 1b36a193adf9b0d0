"""What points a service at the double (its package's ``service_env``: its EU platform),
and the double's own settings (``SANDBOX_BACKMARKET_<FIELD>``, read by
``config.double_settings``)."""

from __future__ import annotations

from keybuzz_sandbox.double_kit.settings import ShopsSettings, api_at


class BackMarketDoubleSettings(ShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_BACKMARKET_EXTRA_SHOPS``: small shops beyond the seeded ones (shops.py)."""


service_env = api_at("BACKMARKET_EU_URL", "/backmarket")
