"""How a seller connects a Cdiscount shop: the fields of Octopia's API client, and their
check (a token, then one call as the seller) returning the shop's identity."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.seam import CredentialField, ShopApiSettings
from keybuzz_shared.json_calls import check_options

from keybuzz_connector_cdiscount.client import OctopiaClient, OctopiaCredentials
from keybuzz_connector_cdiscount.errors import OctopiaCredentialsRefused
from keybuzz_connector_cdiscount.settings import octopia_api

# Printable ASCII without spaces: what Octopia's portal generates, and a refusal about a
# value never needs to quote it.
_PRINTABLE = "[!-~]+"
CREDENTIAL_FIELDS = (
    CredentialField(
        name="client_id",
        json_name="clientId",
        label="Client ID",
        pattern=_PRINTABLE,
        format="printable ASCII text without spaces",
        max_length=128,
    ),
    CredentialField(
        name="client_secret",
        json_name="clientSecret",
        label="Client secret",
        secret=True,
        pattern=_PRINTABLE,
        format="printable ASCII text without spaces",
        max_length=256,
    ),
    # Octopia's seller ids are numbers (the SellerId header of every call).
    CredentialField(
        name="seller_id",
        json_name="sellerId",
        label="Seller ID",
        pattern="[0-9]{1,12}",
        format="digits",
        max_length=12,
        number=True,  # an integer to the marketplace: "043115" is shop 43115
        account=True,
    ),
)
SELLER_API = "octopia-seller-api"


def credentials_of(fields: Mapping[str, str]) -> OctopiaCredentials:
    """The API client named by ``fields`` (those of CREDENTIAL_FIELDS); ValueError when one
    is missing."""
    missing = [f.name for f in CREDENTIAL_FIELDS if not fields.get(f.name)]
    if missing:
        raise ValueError(f"Cdiscount credentials lack {', '.join(missing)}")
    return OctopiaCredentials(
        client_id=fields["client_id"],
        client_secret=fields["client_secret"],
        seller_id=canonical_account(CREDENTIAL_FIELDS, fields["seller_id"]),
    )


def shop_identity(seller_id: str) -> str:
    """The account a seller id names on Octopia's seller API."""
    return f"{SELLER_API}:{canonical_account(CREDENTIAL_FIELDS, seller_id)}"


class CdiscountCredentialCheck:
    """The seam's ``CredentialCheck``: a token for the client id and secret, then one call
    as the seller id (Octopia refuses a seller the client has no access to)."""

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        shop = credentials_of(credentials)
        api = octopia_api(settings)
        client = OctopiaClient(
            shop,
            http,
            api.api_url,
            api.auth_url,
            **check_options(api.call_deadline_seconds),
        )
        await client.authenticate()
        items, _ = await client.get_page("/discussions", {"pageSize": "1"})
        # The API answers for the seller the call named; a discussion it lists names its
        # seller, and that answer decides: compared in the canonical form, it must be the
        # seller typed.
        named = {
            canonical_account(CREDENTIAL_FIELDS, str(i["sellerId"]))
            for i in items
            if isinstance(i, dict) and isinstance(i.get("sellerId"), (int, str))
        }
        if named - {shop.seller_id}:
            raise OctopiaCredentialsRefused(f"these credentials are not seller {shop.seller_id}'s")
        return shop_identity(shop.seller_id)
