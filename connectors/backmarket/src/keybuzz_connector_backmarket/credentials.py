"""How a seller connects a Back Market shop: the token it creates in its back office, its
seller (merchant) id and its country, and their check (one call with the token).

The country code is the shop's ``Accept-Language`` and names its platform [official]:
EU (fr-fr … sv-se), US (en-us), AP (ja-jp, en-au)."""

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
from keybuzz_shared.connectors.seam import CredentialField
from keybuzz_shared.json_calls import CallOptions

from keybuzz_connector_backmarket.client import ERRORS, BackMarketClient, ShopAccess
from keybuzz_connector_backmarket.settings import BackMarketApiSettings

PLATFORMS: dict[str, str] = {
    **dict.fromkeys(
        (
            "fr-fr",
            "fr-be",
            "es-es",
            "de-de",
            "de-at",
            "it-it",
            "en-gb",
            "nl-nl",
            "pt-pt",
            "en-ie",
            "el-gr",
            "sk-sk",
            "sv-se",
        ),
        "EU",
    ),
    "en-us": "US",
    "ja-jp": "AP",
    "en-au": "AP",
}
CREDENTIAL_FIELDS = (
    # Back Market's tokens are base64 [observed].
    key_field("token", "API token", max_length=512),
    shop_number_field("merchant_id", "Seller ID"),
    CredentialField(
        name="country",
        json_name="country",
        label="Country (fr-fr, de-de, en-us …)",
        pattern="|".join(PLATFORMS),
        format="Back Market country code (fr-fr, de-de, es-es, it-it, en-us …)",
        max_length=5,
        case="lower",
    ),
)


def access_of(fields: Mapping[str, str], user_agent: str) -> ShopAccess:
    """The shop's access from its credential fields; ValueError when one is missing."""
    require_fields(CREDENTIAL_FIELDS, fields, "Back Market")
    return ShopAccess(token=fields["token"], country=fields["country"], user_agent=user_agent)


def platform_of(fields: Mapping[str, str]) -> str:
    return PLATFORMS.get(fields.get("country", ""), "EU")


def shop_identity(platform: str, merchant_id: str) -> str:
    """The account a merchant id names on one of Back Market's platforms."""
    return f"backmarket-{platform.lower()}:{canonical_account(CREDENTIAL_FIELDS, merchant_id)}"


async def probe(
    credentials: Mapping[str, str],
    http: httpx.AsyncClient,
    api: BackMarketApiSettings,
    options: CallOptions,
) -> str:
    """One GET /ws/sav with the token. Back Market names the seller of each care folder it
    lists (``merchant``): a token answering for another seller than the one typed is
    refused. A shop with no folder yet is taken on the id typed (Back Market's API has no
    call that names the token's seller otherwise)."""
    platform = platform_of(credentials)
    access = access_of(credentials, api.user_agent)
    client = BackMarketClient(access, http, api.platform_url(platform), **options)
    page = await client.get_json("/ws/sav", {"page": "1"})
    results = page.get("results") if isinstance(page, dict) else None
    named = (
        f["merchant"]
        for f in results or ()
        if isinstance(f, dict) and isinstance(f.get("merchant"), int)
    )
    refusal = "the token is not seller {account}'s"
    typed = own_account(
        CREDENTIAL_FIELDS, credentials["merchant_id"], named, ERRORS, refusal=refusal
    )
    return shop_identity(platform, typed)


CREDENTIAL_CHECK = ProbeCheck(BackMarketApiSettings, "Back Market", probe)
