"""How a seller connects a Cdiscount shop: the fields of Octopia's API client, and their
check (a token, then one call as the seller) returning the shop's identity."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.kit import (
    ProbeCheck,
    key_field,
    own_account,
    require_fields,
    shop_number_field,
)
from keybuzz_shared.json_calls import CallOptions

from keybuzz_connector_cdiscount.client import ERRORS, OctopiaClient, OctopiaCredentials
from keybuzz_connector_cdiscount.settings import CdiscountApiSettings

CREDENTIAL_FIELDS = (
    key_field("client_id", "Client ID", max_length=128, secret=False),
    key_field("client_secret", "Client secret", max_length=256),
    # Octopia's seller ids are numbers (the SellerId header of every call).
    shop_number_field("seller_id", "Seller ID"),
)
SELLER_API = "octopia-seller-api"


def credentials_of(fields: Mapping[str, str]) -> OctopiaCredentials:
    """The API client named by ``fields`` (those of CREDENTIAL_FIELDS); ValueError when one
    is missing."""
    require_fields(CREDENTIAL_FIELDS, fields, "Cdiscount")
    return OctopiaCredentials(
        client_id=fields["client_id"],
        client_secret=fields["client_secret"],
        seller_id=canonical_account(CREDENTIAL_FIELDS, fields["seller_id"]),
    )


def shop_identity(seller_id: str) -> str:
    """The account a seller id names on Octopia's seller API."""
    return f"{SELLER_API}:{canonical_account(CREDENTIAL_FIELDS, seller_id)}"


async def probe(
    credentials: Mapping[str, str],
    http: httpx.AsyncClient,
    api: CdiscountApiSettings,
    options: CallOptions,
) -> str:
    """A token for the client id and secret, then one call as the seller id (Octopia
    refuses a seller the client has no access to). The API answers for the seller the call
    named; a discussion it lists names its seller, and that answer decides: it must be the
    seller typed."""
    shop = credentials_of(credentials)
    client = OctopiaClient(shop, http, api.api_url, api.auth_url, **options)
    await client.authenticate()
    items, _ = await client.get_page("/discussions", {"pageSize": "1"})
    named = (
        i["sellerId"]
        for i in items
        if isinstance(i, dict) and isinstance(i.get("sellerId"), (int, str))
    )
    return shop_identity(own_account(CREDENTIAL_FIELDS, shop.seller_id, named, ERRORS))


CREDENTIAL_CHECK = ProbeCheck(CdiscountApiSettings, "Cdiscount", probe)
