"""The Kaufland connector's declaration (docs/KAUFLAND.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import ClassVar

from keybuzz_shared.connectors import kit, seam

from keybuzz_connector_kaufland import tickets
from keybuzz_connector_kaufland.orders import storefronts, unit_orders

KAUFLAND = "KAUFLAND"  # the marketplace value of its shops, tickets and orders


class KauflandSettings(kit.ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = KAUFLAND
    MARKS_READ: ClassVar[bool] = False

    api_url: str = "https://sellerapi.kaufland.com/v2"

    @property
    def file_hosts(self) -> tuple[str, ...]:
        return (self.api_url, *(f"https://www.kaufland.{s}" for s in tickets.LANGUAGES))


CREDENTIAL_FIELDS = (
    kit.account_field(
        "client_key", "Client Key", "[0-9A-Fa-f]{32}", "32 hexadecimal characters", 32
    ),
    kit.key_field("secret_key", "Secret Key", max_length=128),  # 64 [official], room kept
)
REQUESTS_PER_SECOND = 55  # Kaufland's 111 halved: the poller's, orders' (KAUFLAND.md, "Limits")
HEADERS_REFUSED = kit.Refusals.Held.said(
    401,
    "type",
    "/problems/missing-or-invalid-request-header",
    300.0,
    "Kaufland refused the request's headers",
)
SIGNED_HEADERS = ("Shop-Client-Key", "Shop-Timestamp", "Shop-Signature")
SPEC = kit.ApiSpec(
    tickets.LABEL,
    logging.getLogger(__name__),
    kit.CallErrors.labelled(tickets.LABEL, credentials="keys"),
    kit.Refusals(held=HEADERS_REFUSED),
    requests_per_second=REQUESTS_PER_SECOND,
)


def client_of(shop: kit.Declaration.Opening[seam.ShopApiSettings]) -> kit.Requester:
    fields = shop.credentials
    auth = kit.HeaderAuth.signed(fields["client_key"], fields["secret_key"], SIGNED_HEADERS)
    seller = {"client_key": fields["client_key"]}
    return kit.Requester(SPEC, auth, shop.http, shop.api.api_url, shop=seller, **shop.options)


async def probe(client: kit.Requester, credentials: Mapping[str, str]) -> str:
    """The Client Key Kaufland answered for: the seller (docs/KAUFLAND.md, "Connecting")."""
    await storefronts(client)
    return credentials["client_key"]


def session_of(client: kit.Requester, api: seam.ShopApiSettings | None = None) -> kit.KitSession:
    inbox, post = tickets.ticket_inbox(client), partial(tickets.post_message, client)
    return kit.KitSession(
        inbox,
        inbox.item.replies(tickets.LABEL, post, recipients=("BUYER",), limits=tickets.LIMITS),
        unit_orders(client),
        close=partial(tickets.close_ticket, client),
    )


ORDER_IDS = kit.OrderIdPattern(
    "[A-Z0-9]{7}",
    "a Kaufland one (seven capitals and digits)",
    keep=lambda w: any(c.isdigit() for c in w) and any(c.isalpha() for c in w),
)
RESPONSE_WINDOW = kit.Declaration.OwnRule.hours(
    48, "only Kaufland's customer service clears a ticket without a reply", clock=seam.WORKING_DAYS
)
DISCUSSIONS = kit.Declaration.Discussions(
    ("BUYER",),
    support_sender="Kaufland",
    claim_subject="Ticket Kaufland",
    gate=tickets.reply_refusal,
)
CONNECTOR = kit.shop_api_connector(
    kit.Declaration(
        KAUFLAND,
        tickets.LABEL,
        CREDENTIAL_FIELDS,
        tickets.LIMITS,
        client=client_of,
        parts=session_of,
        probe=probe,
        settings=KauflandSettings,
        discussions=DISCUSSIONS,
        order_ids=ORDER_IDS,
        response_window=RESPONSE_WINDOW,
        closes_threads=True,
    )
)
