"""The Fnac/Darty double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from keybuzz_sandbox.conformance import (
    DoubleShop,
    RecipientKind,
    WireFormat,
    Written,
    answered,
    written_of,
)
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver


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
    file_reference: str = "url"
    suite_settings = {"EXTRA_SHOPS": "4", "BENCH_ORDERS": "50"}  # 2 more of each marketplace

    account = "shop_id"
    listed_as = {field: field for field in ("partner_id", "shop_id", "key")}
    # Fnac's message_to for each recipient (the double's sent log).
    recipient_kinds = {"CLIENT": "BUYER", "CALLCENTER": "MARKETPLACE_SUPPORT"}
    logged_said, logged_to = "description", "messageTo"
    opening_file = {"contentType": "application/pdf", "size": 10}
    wire: WireFormat = "XML"

    def kept(self, shop: Mapping[str, Any]) -> bool:
        return shop["marketplace"] == self.marketplace and shop["orders"] > 0

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
