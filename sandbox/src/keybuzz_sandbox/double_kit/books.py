"""A shop whose history a generator draws, made concrete as the shop's own clock reaches
it: each order's and question's messages once, whatever the calls that reach them first
(docs/SANDBOX.md, the double kit)."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import msgspec

from keybuzz_sandbox.clock import SellerTimeline
from keybuzz_sandbox.faults import ReplyFaults

# Orders in 90 days of each extra shop: its first poll reads a few messages, and a buyer
# always has an order to write about.
EXTRA_SHOP_ORDERS = 12


class DrawnShopSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    order_count: int  # orders in any 90-day window
    claim_rate: float = 0.05  # share of shipped orders whose buyer opens a claim


class Drawn(Protocol):
    @property
    def spec(self) -> DrawnShopSpec: ...

    def placed_before(self, virtual_now: float) -> int: ...

    def offer_questions_before(self, virtual_now: float) -> int: ...


G = TypeVar("G", bound=Drawn)
C = TypeVar("C", bound=msgspec.Struct)


class DrawnShop(Generic[G, C]):
    """What a drawn shop's book holds beside its messages: its generator, its clock, its
    credentials (named as its admin lists them), how its threads show a seller's reply, the
    token requests the double answered for it."""

    def __init__(self, gen: G, timeline: SellerTimeline, credentials: C) -> None:
        self.reply_faults = ReplyFaults()  # how its threads show and date a seller's reply
        self.gen = gen
        self.timeline = timeline
        self.credentials = credentials
        # token requests naming the shop the double answered, granted or refused (a client
        # keeping its token asks once per expiry, not once per call)
        self.token_requests = 0
        self._orders_done = 0
        self._offers_done = 0

    def virtual(self, real_now: float) -> float:
        return self.timeline.virtual(real_now)

    def real(self, virtual: float) -> float:
        return self.timeline.real(virtual)

    def materialize(self, virtual_now: float) -> None:
        """Makes concrete what was drawn before ``virtual_now`` and is not yet."""
        orders = self.gen.placed_before(virtual_now)
        for index in range(self._orders_done, orders):
            self.order_drawn(index)
        self._orders_done = max(self._orders_done, orders)
        offers = self.gen.offer_questions_before(virtual_now)
        for index in range(self._offers_done, offers):
            self.offer_question_drawn(index)
        self._offers_done = max(self._offers_done, offers)

    def advanced(self, seconds: float, real_now: float) -> tuple[float, float]:
        """Plays ``seconds`` of the shop's life at once: its virtual times before and after,
        what was drawn by each made concrete."""
        before = self.virtual(real_now)
        self.materialize(before)
        self.timeline.add_jump(real_now, seconds)
        after = self.virtual(real_now)
        self.materialize(after)
        return before, after

    def placed_between(self, before: float, after: float) -> range:
        """Indices of the orders placed after ``before``, by ``after`` (virtual times)."""
        return range(self.gen.placed_before(before), self.gen.placed_before(after))

    def order_drawn(self, index: int) -> None:
        """Makes order ``index``'s messages concrete (those it has)."""
        raise NotImplementedError

    def offer_question_drawn(self, index: int) -> None:
        """Makes buyer's question ``index`` about an offer concrete."""
        raise NotImplementedError


def shop_view(book: DrawnShop[Any, Any], now: float) -> dict[str, Any]:
    """One entry of a drawn double's admin list of shops: its name, its credentials, the
    orders it had placed by ``now`` (real seconds)."""
    return {
        "name": book.gen.spec.name,
        **msgspec.to_builtins(book.credentials),
        "orders": book.gen.placed_before(book.virtual(now)),
    }
