"""The Fnac/Darty double: Fnac's seller API (XML over HTTPS), Darty's shops on the same API;
what points a service at it (its ``Double``'s ``service_env``) and its own settings
(``SANDBOX_FNAC_<FIELD>``, read by ``config.double_settings``)."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.settings import BenchedShopsSettings, api_at


class FnacDoubleSettings(BenchedShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_FNAC_<FIELD>`` (docs/SANDBOX.md, "Settings")."""


DOUBLE = Double(
    "fnac",
    api_at("FNAC_API_URL", "/fnac/api.php/"),
    settings=FnacDoubleSettings,
    routes_at="keybuzz_double_fnac.routes:fnac_routes",
    drivers_at="keybuzz_double_fnac.driver:FnacDriver",
    marketplaces=("FNAC", "DARTY"),
)
