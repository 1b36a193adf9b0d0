"""The Rakuten France double: sellers' sold items, their messages and Rakuten's mails, and
their sales, on Rakuten's seller web services (``GET /rakuten/sales_ws?action=…``)."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.settings import ShopsSettings, api_at

API = "/rakuten"


class RakutenDoubleSettings(ShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_RAKUTEN_<FIELD>`` (docs/SANDBOX.md, "Settings")."""


service_env = api_at("RAKUTEN_API_URL", f"{API}/")


DOUBLE = Double(
    "rakuten",
    service_env,
    settings=RakutenDoubleSettings,
    routes_at="keybuzz_double_rakuten.routes:routes",
    drivers_at="keybuzz_double_rakuten.driver:RakutenDriver",
    marketplaces=("RAKUTEN",),
)
