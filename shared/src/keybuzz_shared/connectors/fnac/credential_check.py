"""The check of a shop's credentials when a seller connects it: one ``auth`` call."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from keybuzz_shared.connectors.fnac.client import FnacClient, FnacCredentials


class FnacCredentialCheck:
    """The seam's ``CredentialCheck``: Fnac's seller API serves Darty's shops too."""

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, base_url: str
    ) -> None:
        shop = FnacCredentials(
            partner_id=credentials["partner_id"],
            shop_id=credentials["shop_id"],
            key=credentials["key"],
        )
        # A person waits for the answer: one retry, a short back-off; a longer
        # Retry-After from Fnac is passed on to the caller rather than waited for here.
        client = FnacClient(http, base_url, shop, attempts=2, max_backoff=2.0, max_retry_after=5.0)
        await client.authenticate()
