"""The Back Market connector: the seam on Back Market's seller API, declared for the kit
(docs/BACKMARKET.md: the credential fields, the headers every call carries, the firewall)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import CredentialField

from keybuzz_connector_backmarket.care import LIMITS, RECIPIENTS, CareInbox, folder_replies
from keybuzz_connector_backmarket.orders import shop_orders
from keybuzz_connector_backmarket.settings import (
    BACKMARKET,
    PLATFORMS,
    BackMarketApiSettings,
    BackMarketSettings,
)

# The firewall says neither why nor for how long [official] (its page is cached 15 s).
WAF_HOLD_SECONDS = 60.0
ERRORS = kit.CallErrors.labelled("Back Market", credentials="token")


def challenge_held(response: httpx.Response, document: Any) -> kit.Refusals.Held | None:
    """A 403 that is the firewall's page (HTML where the API answers JSON, or ``server:
    cloudflare``) or names its bot challenge: held, never credentials revoked."""
    if response.status_code != 403:
        return None
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    errors = document.get("errors") if isinstance(document, dict) else None
    coded = "bot-need-challenge" in kit.named_in(errors, "code", (str,))
    page = media == "text/html" or response.headers.get("server", "").lower() == "cloudflare"
    reason = "HTTP 403 from Back Market's firewall (challenge); held and retried later"
    return kit.Refusals.Held(WAF_HOLD_SECONDS, reason) if coded or page else None


SPEC = kit.ApiSpec(
    "Back Market",
    logging.getLogger(__name__),
    ERRORS,
    kit.Refusals(held=challenge_held),
    allowance_call="GET ws/sav",  # the call Back Market allows 4,000 a day [official]
)
CREDENTIAL_FIELDS = (
    # Back Market's tokens are base64 [observed].
    kit.key_field("token", "API token", max_length=512),
    kit.shop_number_field("merchant_id", "Seller ID"),
    CredentialField(
        name="country",
        json_name="country",
        label="Country (fr-fr, de-de, en-us …)",
        pattern="|".join(PLATFORMS),
        max_length=5,
        case="lower",
        format="Back Market country code (fr-fr, de-de, es-es, it-it, en-us …)",
    ),
)


def platform_of(fields: Mapping[str, str]) -> str:
    return PLATFORMS.get(fields.get("country", ""), "EU")


def client_of(shop: kit.Declaration.Opening[BackMarketApiSettings]) -> kit.Requester:
    """The shop's calls on its country's platform; its files, links to Back Market's file
    host, asked without the token."""
    fields, api = shop.credentials, shop.api
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
    """One GET /ws/sav, its folders' ``merchant`` the seller typed (docs/BACKMARKET.md,
    "Connecting a shop": a shop with no folder yet is taken on the id typed)."""
    page = await client.get_json("/ws/sav", {"page": "1"})
    results = page.get("results") if isinstance(page, dict) else None
    named = kit.named_in(results, "merchant", (int,))
    refusal = "the token is not seller {account}'s"
    typed = kit.own_account(
        CREDENTIAL_FIELDS, credentials["merchant_id"], named, ERRORS, refusal=refusal
    )
    return f"backmarket-{platform_of(credentials).lower()}:{typed}"


# Back Market's order ids: whole numbers (an integer [official]; eight digits in the back
# office [observed]), taken from 7 to 12 digits in free text: a shorter number is far more
# often a quantity, a price, a postcode or an order's six-digit ``#ref``; one right after a
# "." or "," is a price's decimals.
ORDER_IDS = kit.OrderIdPattern(
    "[1-9][0-9]{6,11}", "a Back Market one (a whole number)", before=".,"
)

# A folder's message goes to the buyer and Back Market alike (docs/BACKMARKET.md, "Replies");
# its claims are on the care folder itself: no message of its own opens one.
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=RECIPIENTS, support_sender="BackMarket", claim_subject="Réclamation Back Market"
)


def session_of(client: kit.Requester, api: BackMarketApiSettings | None = None) -> kit.KitSession:
    """The shop's parts, its folder-list calls counted (docs/BACKMARKET.md, "Allowance")."""
    parts = CareInbox(client), folder_replies(client), shop_orders(client)
    return kit.KitSession(*parts).counting(client)


CONNECTOR = kit.shop_api_connector(
    kit.Declaration(
        BACKMARKET,
        "Back Market",
        CREDENTIAL_FIELDS,
        LIMITS,
        client=client_of,
        parts=session_of,
        probe=probe,
        settings=BackMarketSettings,
        discussions=DISCUSSIONS,
        order_ids=ORDER_IDS,
    )
)
