"""The Kaufland double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from keybuzz_sandbox import conformance
from keybuzz_sandbox.conformance import DoubleShop, RecipientKind, answered
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver


@dataclass(frozen=True, kw_only=True)
class KauflandDriver(ListedShopsDriver):
    """Kaufland's double: a shop is its Client Key; its credentials the key pair. Each
    request is signed: no token to expire or renew. A seller's message goes to the ticket,
    which the buyer and Kaufland's customer service read alike (counted as the buyer's)."""

    reading: tuple[str, ...] = ("GetTickets", "GetTicket")
    replying: str = "CreateTicketMessage"
    revoking: str = "rotate-secret"
    answer_cap: int = 8 * 2**20  # the connector's requester cap (the kit's)
    tokenless: str = "Kaufland signs each request with the seller's keys: no token"
    recipients: tuple[RecipientKind, ...] = ("BUYER",)
    file_reference: str = "link"
    suite_settings = {"EXTRA_SHOPS": "2"}
    account = "clientKey"
    listed_as = {"client_key": "clientKey", "secret_key": "secretKey"}
    logged_said = "text"
    buyer_says = {}
    staff_says = {"staff": True}

    async def closed(self, http: httpx.AsyncClient, shop: DoubleShop) -> list[str]:
        """The tickets the seller closed through the API, once each time it was asked."""
        return list(answered(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["closed"])

    async def thread_closed_for_good(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str
    ) -> conformance.Written:
        """A buyer's ticket Kaufland's customer service then closed for good: the seller
        can close it no more (``/problems/tickets/finally-closed``)."""
        opened = await self._open(http, shop, text)
        path = f"{self.admin}/shops/{shop.account}/threads/{opened['threadId']}/close"
        answered(await http.post(path, json={"by": "customer_service"}))
        return conformance.written_of(opened)
