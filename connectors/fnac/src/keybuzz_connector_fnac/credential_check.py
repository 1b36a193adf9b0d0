"""The check of a shop's credentials when a seller connects it: one ``auth`` call, and the
shop's identity on Fnac's seller API."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.seam import ShopApiSettings

from keybuzz_connector_fnac.client import FnacClient, FnacCredentials

# Fnac's seller API serves Fnac's and Darty's shops from one shop-id space: a shop is the
# same account whichever of the two marketplace values it is connected under. oauth's
# migration 004 writes this same form for the rows connected before it.
SELLER_API = "fnac-seller-api"


def shop_identity(shop_id: str) -> str:
    """The account a ``shop_id`` names on the seller API (its ids are case-insensitive
    UUIDs, written in upper case by Fnac)."""
    return f"{SELLER_API}:{shop_id.strip().upper()}"


class FnacCredentialCheck:
    """The seam's ``CredentialCheck``: Fnac's seller API serves Darty's shops too."""

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        shop = FnacCredentials(
            partner_id=credentials["partner_id"],
            shop_id=credentials["shop_id"],
            key=credentials["key"],
        )
        # A person waits for the answer: one retry, a short back-off; a longer
        # Retry-After from Fnac is passed on to the caller rather than waited for here.
        client = FnacClient(
            http, settings.api_url, shop, attempts=2, max_backoff=2.0, max_retry_after=5.0
        )
        await client.authenticate()
        # The auth answer names no shop nor marketplace: the shop is the one whose id and
        # key the API accepted.
        return shop_identity(shop.shop_id)
