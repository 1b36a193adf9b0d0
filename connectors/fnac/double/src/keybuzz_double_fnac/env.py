"""What points a service at the double (its package's ``service_env``: Darty's shops
too), and the double's own settings (``SANDBOX_FNAC_<FIELD>``, read by
``config.double_settings``)."""

from __future__ import annotations

from keybuzz_sandbox.double_kit.settings import BenchedShopsSettings, api_at


class FnacDoubleSettings(BenchedShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_FNAC_<FIELD>`` (docs/SANDBOX.md, "Settings")."""


service_env = api_at("FNAC_API_URL", "/fnac/api.php/")
