"""The Fnac/Darty double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from keybuzz_sandbox.conformance import (
    DoubleShop,
    RecipientKind,
    ShopDriver,
    WireFormat,
    Written,
    answered,
    written_of,
)
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver, suite_pace

from .env import service_env

SPARE_FNAC_SHOPS = 4  # SANDBOX_FNAC_EXTRA_SHOPS: two more of each marketplace


@dataclass(frozen=True, kw_only=True)
class FnacDriver(ListedShopsDriver):
    """Fnac's double (connectors/fnac/double/): one API for Fnac and Darty. Its
    threads are the order's: the buyer's, or its customer care's while an incident is open
    (the seller writes to no operator). Its faults are the Fnac API's services'
    (docs/SANDBOX.md, "The Fnac double")."""

    admin: str = "/_sandbox/fnac"
    reading: tuple[str, ...] = ("messages_query", "incidents_query")
    replying: str = "messages_update"
    revoking: str = "rotate-key"
    answer_cap: int = 16 * 2**20  # the Fnac connector's MAX_RESPONSE_BYTES
    threads: str = "messages"  # a buyer's message opens its order's thread
    said: str = "description"

    account = "shop_id"
    listed_as = {field: field for field in ("partner_id", "shop_id", "key")}
    # Fnac's message_to for each recipient (the double's sent log).
    recipient_kinds = {"CLIENT": "BUYER", "CALLCENTER": "MARKETPLACE_SUPPORT"}
    wire: WireFormat = "XML"

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {**service_env(sandbox_url), **suite_pace("FNAC")}

    def sandbox_settings(self) -> dict[str, str]:
        return {
            "SANDBOX_FNAC_EXTRA_SHOPS": str(SPARE_FNAC_SHOPS),
            "SANDBOX_FNAC_BENCH_ORDERS": "50",
        }

    def kept(self, shop: Mapping[str, Any]) -> bool:
        return shop["marketplace"] == self.marketplace and shop["orders"] > 0

    async def buyer_names_a_file(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, reference: str
    ) -> Written:
        file = {
            "name": "facture.pdf",
            "contentType": "application/pdf",
            "size": 10,
            "url": reference,
        }
        return written_of(await self._open(http, shop, text, attachments=[file]))

    async def thread_for(
        self, http: httpx.AsyncClient, shop: DoubleShop, recipient: RecipientKind, text: str
    ) -> Written:
        self.unoffered(recipient)
        # A thread of its own: on the latest order, a reply another case sent would be on it.
        written = written_of(await self._open(http, shop, text, untouched=True))
        if recipient == "MARKETPLACE_SUPPORT":
            opened = await http.post(
                f"{self.admin}/shops/{shop.account}/incidents", json={"orderId": written.order_id}
            )
            answered(opened, 201)
        return written

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = await self.sent_log(http, shop)
        return [
            self.recipient_kinds.get(s["messageTo"], s["messageTo"])
            for s in sent
            if s["description"] == text
        ]


def drivers() -> dict[str, ShopDriver]:
    return {marketplace: FnacDriver(marketplace=marketplace) for marketplace in ("FNAC", "DARTY")}
