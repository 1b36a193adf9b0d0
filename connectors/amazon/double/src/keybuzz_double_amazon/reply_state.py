"""Who Amazon's reply relay writes to: the buyers behind the aliases, and what it lists of
their replies (docs/SANDBOX.md, "Reply relay")."""

from __future__ import annotations

import asyncio

import msgspec
from keybuzz_sandbox.double_kit.replies import PassedReply, RefusedReply

from .order_book import OrderBook

# --- who the buyers are --------------------------------------------------------------


class Buyer(msgspec.Struct, frozen=True, kw_only=True):
    alias: str  # lower case
    seller_id: str  # Amazon gives a buyer one alias per seller
    order_id: str


class SeededBuyers:
    """Alias -> buyer for every seeded order placed so far, indexed on first need in a worker
    thread (~0.07 ms an order), extended only by the orders placed since the last lookup."""

    def __init__(self, sellers: dict[str, OrderBook]) -> None:
        self._sellers = sellers
        self._index: dict[str, Buyer] = {}
        self._indexed: dict[str, int] = {}
        self._lock: asyncio.Lock | None = None

    async def find(self, alias: str, real_now: float) -> Buyer | None:
        alias = alias.lower()
        if alias not in self._index:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                await asyncio.to_thread(self._extend, real_now)
        return self._index.get(alias)

    def _extend(self, real_now: float) -> None:
        for seller_id, book in self._sellers.items():
            placed = book.count(real_now)
            for index in range(self._indexed.get(seller_id, 0), placed):
                facts = book.gen.facts(index)
                alias = facts.buyer_email.lower()
                self._index[alias] = Buyer(
                    alias=alias, seller_id=seller_id, order_id=facts.order_id
                )
            self._indexed[seller_id] = max(placed, self._indexed.get(seller_id, 0))


# --- what the buyer received, what was refused ----------------------------------------


class InboxMessage(PassedReply, kw_only=True):
    seller_id: str
    order_id: str | None


class BuyerRefusal(RefusedReply, kw_only=True):
    seller_id: str | None = None
