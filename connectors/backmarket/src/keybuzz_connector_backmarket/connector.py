"""The Back Market connector: the seam on Back Market's seller API (docs/BACKMARKET.md),
declared for the kit: a shop API (care folders and orders) and a credential check.

The seller types its token, seller (merchant) id and country (no redirect flow; the
country code is the shop's ``Accept-Language`` and names its platform [official]: EU
(fr-fr … sv-se), US (en-us), AP (ja-jp, en-au)); buyers write through care folders (no
inbound address, no mail relay); orders come from the shop API (no order feed). Back
Market measures a late-response rate (LRR) but publishes neither a window nor the figure
to sellers' APIs: the poller's default window, or the tenant's.

Every call carries the shop's token (``Authorization: Basic <token>``, as the seller
created it in its back office), ``Accept-Language`` and the ``User-Agent`` Back Market
requires (``BM-{Company}-{Integration};contact@domain``). The web application firewall's
403 (Cloudflare's HTML page, or bot management's JSON ``bot-need-challenge``) says nothing
of the token: it is held (the shop retried later), never read as credentials revoked; 401
is the token refused."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import CredentialField

from keybuzz_connector_backmarket.care import LIMITS, RECIPIENTS, CareInbox, folder_replies
from keybuzz_connector_backmarket.firewalls import challenge_held
from keybuzz_connector_backmarket.orders import ShopOrders
from keybuzz_connector_backmarket.settings import (
    BACKMARKET,
    BackMarketApiSettings,
    BackMarketSettings,
)

# Any answer is refused past this size, unread: a care folder with its messages is some
# tens of kB, a page of 50 orders some hundreds.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# The firewall says neither why nor for how long [official]: its page's own cache life is
# 15 s; the shop is polled again after this.
WAF_HOLD_SECONDS = 60.0
ERRORS = kit.CallErrors.labelled("Back Market", credentials="token")
SPEC = kit.ApiSpec(
    "Back Market",
    logging.getLogger(__name__),
    ERRORS,
    kit.Refusals(held=challenge_held("Back Market", WAF_HOLD_SECONDS, ("bot-need-challenge",))),
    max_response_bytes=MAX_RESPONSE_BYTES,
    allowance_call="GET ws/sav",  # the call Back Market allows 4,000 a day [official]
)
# Each country code a shop may have [official], by the platform serving it.
PLATFORMS = dict.fromkeys(
    ("fr-fr", "fr-be", "es-es", "de-de", "de-at", "it-it", "en-gb", "nl-nl", "pt-pt",
     "en-ie", "el-gr", "sk-sk", "sv-se"), "EU"
) | {"en-us": "US", "ja-jp": "AP", "en-au": "AP"}  # fmt: skip
CREDENTIAL_FIELDS = (
    # Back Market's tokens are base64 [observed].
    kit.key_field("token", "API token", max_length=512),
    kit.shop_number_field("merchant_id", "Seller ID"),
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


def platform_of(fields: Mapping[str, str]) -> str:
    return PLATFORMS.get(fields.get("country", ""), "EU")


def client_of(shop: kit.Declaration.Opening[BackMarketApiSettings]) -> kit.Requester:
    """The shop's calls on its country's platform (ValueError when a credential field is
    missing). Its messages' files are links to Back Market's file host [official: "URL of
    the attachment"], asked without the token from the hosts ``shop.options`` allows."""
    fields, api = shop.credentials, shop.api
    kit.require_fields(CREDENTIAL_FIELDS, fields, "Back Market")
    token, country = fields["token"], fields["country"]
    headers = {
        "Authorization": f"Basic {token}",
        "Accept-Language": country,
        "User-Agent": api.user_agent,
    }
    auth = kit.HeaderAuth(headers, secrets=(token,))
    url = {"US": api.us_url, "AP": api.ap_url}.get(platform_of(fields), api.api_url)
    return kit.Requester(SPEC, auth, shop.http, url, shop={"country": country}, **shop.options)


async def probe(client: kit.Requester, credentials: Mapping[str, str]) -> str:
    """One GET /ws/sav with the token. Back Market names the seller of each care folder it
    lists (``merchant``): a token answering for another seller than the one typed is
    refused. A shop with no folder yet is taken on the id typed (Back Market's API has no
    call that names the token's seller otherwise). The identity is the account on its
    platform (``backmarket-eu:40001``)."""
    page = await client.get_json("/ws/sav", {"page": "1"})
    results = page.get("results") if isinstance(page, dict) else None
    named = kit.named_in(results, "merchant", (int,))
    refusal = "the token is not seller {account}'s"
    typed = kit.own_account(
        CREDENTIAL_FIELDS, credentials["merchant_id"], named, ERRORS, refusal=refusal
    )
    return f"backmarket-{platform_of(credentials).lower()}:{typed}"


# Back Market's order ids: whole numbers (``order_id``, an integer [official]; eight digits
# in the seller back office [observed]). Taken for one from 7 to 12 digits, as in free
# text: a shorter number is a quantity, a price, a postcode or another marketplace's
# reference (an order's six-digit ``#ref``) far more often, and would turn those searches
# into order-id lookups. A number right after a "." or "," is a price's decimals.
ORDER_IDS = kit.OrderIdPattern(
    "[1-9][0-9]{6,11}", "a Back Market one (a whole number)", before=".,"
)

# A folder's message goes to the buyer and Back Market alike (MERCHANT_TO_ALL); multipart
# carries any text; Back Market's refusals (400) give no code of their own [official].
# Its claims are on the care folder itself: no message of its own opens one.
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=RECIPIENTS, support_sender="BackMarket", claim_subject="Réclamation Back Market"
)


def session_of(client: kit.Requester, api: BackMarketApiSettings | None = None) -> kit.KitSession:
    """The shop's parts on its client: the folder-list calls it sends are what Back
    Market's 4,000 a day count (a poll lists no incident: no call for them)."""
    return kit.KitSession(
        CareInbox(client),
        folder_replies(client),
        ShopOrders(client),
        verify=lambda: client.get_json("/ws/sav", {"page": "1"}),
    ).counting(client)


# The shop's secret in Vault holds its API token, seller id and country.
CONNECTOR = kit.shop_api_connector(kit.Declaration(
    BACKMARKET, "Back Market", "backmarket_api", CREDENTIAL_FIELDS, LIMITS,
    view=BackMarketApiSettings, client=client_of, parts=session_of, probe=probe,
    settings=BackMarketSettings, discussions=DISCUSSIONS, order_ids=ORDER_IDS,
))  # fmt: skip
