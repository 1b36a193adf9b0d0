"""The Fnac/Darty double: Fnac's seller API (XML over HTTPS), Darty's shops on the same API."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import FnacDoubleSettings, service_env

DOUBLE = Double(
    "fnac",
    service_env,
    settings=FnacDoubleSettings,
    routes_at="keybuzz_double_fnac.routes:fnac_routes",
    drivers_at="keybuzz_double_fnac.driver:FnacDriver",
    marketplaces=("FNAC", "DARTY"),
)
