"""How a seller connects one shop of a Mirakl operator: the shop user's API key and the
shop's id, checked by one call as that shop before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.kit import (
    key_field,
    require_fields,
    settings_view,
    shop_number_field,
)
from keybuzz_shared.connectors.seam import CallRefused, ShopApiSettings
from keybuzz_shared.json_calls import check_options

from keybuzz_connector_mirakl.client import MiraklClient, MiraklKey
from keybuzz_connector_mirakl.settings import MiraklApiSettings

CREDENTIAL_FIELDS = (
    # The shop's back office, "API key": UUIDs on the instances we know [observed].
    key_field("api_key", "Clé API", max_length=128),
    # The shop's id (the back office's "Shop ID"): one key may serve several shops, and
    # the connection is one shop of one operator.
    shop_number_field("shop_id", "Shop ID"),
)
THREADS = "api/inbox/threads"
NO_THREAD = "00000000-0000-0000-0000-000000000000"  # Mirakl's thread ids are UUIDs


def key_of(fields: Mapping[str, str]) -> MiraklKey:
    """The key and shop named by ``fields`` (those of CREDENTIAL_FIELDS); ValueError when
    one is missing."""
    require_fields(CREDENTIAL_FIELDS, fields, "Mirakl")
    return MiraklKey(
        api_key=fields["api_key"].strip(),
        shop_id=canonical_account(CREDENTIAL_FIELDS, fields["shop_id"]),
    )


def shop_identity(operator: str, shop_id: str) -> str:
    """One shop of one operator: two operators' shops of one id are two shops."""
    return f"mirakl:{operator}:{canonical_account(CREDENTIAL_FIELDS, shop_id)}"


class MiraklCredentialCheck:
    """The seam's ``CredentialCheck``: one call as the shop that spends none of its
    frequency-limited allowance (``probe``)."""

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        key = key_of(credentials)
        api = settings_view(settings, MiraklApiSettings, "Mirakl")
        client = MiraklClient(
            key,
            http,
            api.api_url,
            operator=api.operator,
            **check_options(api.call_deadline_seconds),
        )
        await probe(client)
        return shop_identity(api.operator, key.shop_id)


async def probe(client: MiraklClient) -> None:
    """M10 on a thread no shop has: Mirakl answers 401 for a key it does not know, 403 for
    a shop the key's user cannot reach, and its own 404 (``{"message", "status"}``) when
    both are good. M10 is synchronous (no frequency of its own), where M11 or OR11 would
    spend the shop's one call a minute, which its next poll needs. A 404 without Mirakl's
    message is another server's: the base URL is not the operator's API."""
    try:
        await client.get_json("M10", f"{THREADS}/{NO_THREAD}")
    except CallRefused as exc:
        if exc.status == 404 and exc.detail != "HTTP 404":
            return
        if exc.status == 404:
            raise client.errors.unreadable(
                exc.call, "a 404 that is not Mirakl's: check the base URL"
            ) from None
        raise
