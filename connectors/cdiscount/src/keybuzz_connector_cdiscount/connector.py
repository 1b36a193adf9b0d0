"""The Cdiscount connector, declared for the kit (docs/CDISCOUNT.md): Octopia publishes no
response rule or figure to sellers, so the poller's default window or the tenant's holds."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Unpack

import httpx
from keybuzz_shared.connectors import kit

from keybuzz_connector_cdiscount.discussions import (
    LIMITS,
    USER_TYPES,
    DiscussionInbox,
    discussion_replies,
)
from keybuzz_connector_cdiscount.orders import shop_orders
from keybuzz_connector_cdiscount.settings import (
    API_URL,
    AUTH_URL,
    CDISCOUNT,
    CdiscountApiSettings,
    CdiscountSettings,
)

# Any answer is refused past this size, unread: a page of 100 discussions with their
# messages is some MB.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

ERRORS = kit.CallErrors.labelled("Octopia")
# 403: the token's client has no access to this seller id.
REASONS = ("detail", "error_description", "title", "message", "error")
REFUSALS = kit.Refusals(credentials=frozenset({401, 403}), reason_keys=REASONS)
SPEC = kit.ApiSpec(
    "Octopia",
    logging.getLogger(__name__),
    ERRORS,
    REFUSALS,
    max_response_bytes=MAX_RESPONSE_BYTES,
    authorized_files=True,
)


class OctopiaCredentials(kit.Redacted, frozen=True, kw_only=True):
    SECRETS = frozenset({"client_secret"})

    client_id: str
    client_secret: str
    seller_id: str


class OctopiaClient(kit.Requester):
    """One shop's calls on its token (client credentials) and ``SellerId``, files included."""

    def __init__(
        self,
        credentials: OctopiaCredentials,
        http: httpx.AsyncClient,
        api_url: str = API_URL,
        auth_url: str = AUTH_URL,
        **options: Unpack[kit.Requester.Options],
    ) -> None:
        tokens = kit.ClientCredentials(
            auth_url,
            credentials.client_id,
            credentials.client_secret,
            headers={"SellerId": credentials.seller_id},
        )
        shop = {"seller_id": credentials.seller_id}
        super().__init__(SPEC, tokens, http, api_url, shop=shop, **options)


CREDENTIAL_FIELDS = (
    kit.key_field("client_id", "Client ID", max_length=128, secret=False),
    kit.key_field("client_secret", "Client secret", max_length=256),
    # Octopia's seller ids are numbers (the SellerId header of every call).
    kit.shop_number_field("seller_id", "Seller ID"),
)
SELLER_API = "octopia-seller-api"  # a shop's identity: the seller's account on this API


def client_of(shop: kit.Declaration.Opening[CdiscountApiSettings]) -> OctopiaClient:
    """The shop's client (ValueError when a credential field is missing)."""
    typed = kit.credentials_as(OctopiaCredentials, CREDENTIAL_FIELDS, shop.credentials, "Cdiscount")
    return OctopiaClient(typed, shop.http, shop.api.api_url, shop.api.auth_url, **shop.options)


async def probe(client: OctopiaClient, credentials: Mapping[str, str]) -> str:
    """A token, then one call as the seller (refused for a seller the client cannot reach):
    a discussion it lists names its seller, which must be the seller typed."""
    await client.authenticate()
    items, _ = await client.get_page("/discussions", {"pageSize": "1"})
    named, typed = kit.named_in(items, "sellerId"), client.shop["seller_id"]
    return f"{SELLER_API}:{kit.own_account(CREDENTIAL_FIELDS, typed, named, ERRORS)}"


# Cdiscount's order numbers: the minute the order was placed (yymmddHHMM) and five
# letters, e.g. ``2611230948AAACH`` (the form sellers see; Octopia publishes no format).
ORDER_IDS = kit.OrderIdPattern(
    "[0-9]{10}[A-Z]{5}", "a Cdiscount one (10 digits and 5 capital letters)"
)

# Whether customer care is among a discussion's recipients is Octopia's to say at the reply;
# a reply's text is listed back as sent, a refusal gives no code (docs/CDISCOUNT.md, "Replies").
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=tuple(USER_TYPES), support_sender="GrcOperator", claim_subject="Litige Cdiscount"
)


def parts(client: OctopiaClient, api: CdiscountApiSettings) -> kit.KitSession:
    # Marking a burst of messages read stops within a quarter of a call's deadline, the rest
    # left to the next poll.
    budget = api.call_deadline_seconds / 4
    inbox = DiscussionInbox(client, page_size=LIMITS.page_size, mark_budget=budget)
    replies = discussion_replies(client, inbox)
    return kit.KitSession(inbox, replies, shop_orders(client), verify=client.authenticate)


CONNECTOR = kit.shop_api_connector(
    kit.Declaration(
        CDISCOUNT,
        "Cdiscount",
        CREDENTIAL_FIELDS,
        LIMITS,
        client=client_of,
        parts=parts,
        probe=probe,
        settings=CdiscountSettings,
        discussions=DISCUSSIONS,
        order_ids=ORDER_IDS,
    )
)
