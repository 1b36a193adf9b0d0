"""Cdiscount's settings (docs/CDISCOUNT.md, "Settings"), each read from its CDISCOUNT_ variable."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.connectors.seam import ShopApiSettings

# The marketplace value of Cdiscount's shops, tickets and orders.
CDISCOUNT = "CDISCOUNT"
API_URL = "https://api.octopia-io.net/seller/v2/"
AUTH_URL = "https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token"
# Octopia answers a discussion search over at most 6 months [official]: a shop's first
# poll never reads further back.
SEARCH_WINDOW_DAYS = 183


class CdiscountApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """Octopia's seller API as a session is given it: with the token endpoint (``auth_url``)."""

    auth_url: str


class CdiscountSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE = CDISCOUNT
    VIEW = CdiscountApiSettings
    API_SERVES_FILES = True  # with the shop's token; CDISCOUNT_ATTACHMENT_ORIGINS: others

    # Production's endpoints by default; ``make run`` points them at the sandbox's double.
    api_url: str = API_URL
    cdiscount_auth_url: str = AUTH_URL  # the token endpoint (client credentials)
    first_poll_days: Annotated[int, msgspec.Meta(ge=1, le=SEARCH_WINDOW_DAYS)] = 30

    def view_fields(self) -> dict[str, Any]:
        return {"auth_url": self.cdiscount_auth_url}
