"""One seller's orders as they stand at a given moment, and the queries over them: every
order API (v0, 2026-01-01, the order report) reads through it, so they agree."""

from __future__ import annotations

import math
from collections.abc import Iterator

import msgspec
from keybuzz_sandbox.clock import SellerTimeline
from keybuzz_sandbox.double_kit.admin import advance_summary
from keybuzz_sandbox.double_kit.api import within

from .seed import MAX_LIFECYCLE, OrderFacts, SellerGenerator


class OrderState(msgspec.Struct, frozen=True, kw_only=True):
    facts: OrderFacts
    status: str  # Orders v0 vocabulary: Pending, Unshipped, Shipped, Canceled
    purchase_date: int  # real epoch seconds, whole
    last_update: int

    @property
    def order_id(self) -> str:
        return self.facts.order_id

    def quantity(self, ordered: int) -> int:
        """Amazon reports QuantityOrdered 0 for the items of a cancelled order."""
        return 0 if self.status == "Canceled" else ordered


class OrderQuery(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A filtered listing; serialised into pagination tokens so pages stay consistent."""

    snapshot: float  # real time the listing is evaluated at (first page's "now")
    created_after: float | None = None
    created_before: float | None = None
    updated_after: float | None = None
    updated_before: float | None = None
    statuses: list[str] | None = None
    channels: list[str] | None = None
    order_ids: list[str] | None = None
    buyer_email: str | None = None
    matches_nothing: bool = False  # a filter no seeded order can satisfy (e.g. Easy Ship)
    page_size: int = 100
    cursor: int = 0


class OrderBook:
    def __init__(self, generator: SellerGenerator, timeline: SellerTimeline) -> None:
        self.gen = generator
        self.timeline = timeline

    @property
    def seller_id(self) -> str:
        return self.gen.spec.seller_id

    def real_ts(self, virtual: float) -> int:
        return math.floor(self.timeline.real(virtual))

    def count(self, real_now: float) -> int:
        return self.gen.placed_before(self.timeline.virtual(real_now))

    def state(self, index: int, real_now: float) -> OrderState | None:
        return self._matches(index, OrderQuery(snapshot=real_now))

    def find(self, order_id: str, real_now: float) -> OrderState | None:
        index = self.gen.index_of(order_id)
        return None if index is None else self.state(index, real_now)

    def changed(self, index: int, status: str, at: float) -> OrderState:
        """Order ``index`` as it became ``status`` at ``at`` (virtual)."""
        facts = self.gen.facts(index)
        purchase, updated = self.real_ts(facts.timeline.purchase), self.real_ts(at)
        return OrderState(facts=facts, status=status, purchase_date=purchase, last_update=updated)

    def _bounds(self, query: OrderQuery) -> tuple[int, int]:
        upper = min(
            t for t in (query.snapshot, query.created_before, query.updated_before) if t is not None
        )
        # Creation is compared in whole seconds (``_matches``): an order up to a second past
        # ``upper`` may still be kept.
        hi = self.gen.placed_before(self.timeline.virtual(upper + 1))
        lo = 0
        if query.created_after is not None:
            lo = self.gen.placed_before(self.timeline.virtual(query.created_after)) - 2
        if query.updated_after is not None:
            lo = (
                self.gen.placed_before(self.timeline.virtual(query.updated_after) - MAX_LIFECYCLE)
                - 2
            )
        return max(lo, query.cursor, 0), hi

    def _candidates(self, query: OrderQuery) -> Iterator[int]:
        if query.order_ids is not None:
            indices = sorted({i for i in map(self.gen.index_of, query.order_ids) if i is not None})
            yield from (i for i in indices if i >= query.cursor)
            return
        yield from range(*self._bounds(query))

    def _matches(self, index: int, query: OrderQuery) -> OrderState | None:
        timeline = self.gen.timeline(index)
        current = timeline.state_at(self.timeline.virtual(query.snapshot))
        if current is None:
            return None
        status, changed = current
        # Compared as the client sees the creation: whole seconds, as Amazon writes it.
        purchase = self.real_ts(timeline.purchase)
        updated = self.real_ts(changed)
        checks = (
            within(purchase, (query.created_after, query.created_before)),
            within(updated, (query.updated_after, query.updated_before)),
            query.statuses is None or status in query.statuses,
            query.channels is None or timeline.channel in query.channels,
        )
        if not all(checks):
            return None
        facts = self.gen.facts(index)
        if query.buyer_email is not None and facts.buyer_email != query.buyer_email:
            return None
        return OrderState(facts=facts, status=status, purchase_date=purchase, last_update=updated)

    def page(self, query: OrderQuery) -> tuple[list[OrderState], OrderQuery | None]:
        """One page, and the query for the next page (None on the last one)."""
        if query.matches_nothing:
            return [], None
        found: list[OrderState] = []
        for index in self._candidates(query):
            state = self._matches(index, query)
            if state is None:
                continue
            if len(found) == query.page_size:
                # Peek one further match so the last page never carries a token.
                return found, msgspec.structs.replace(query, cursor=index)
            found.append(state)
        return found, None

    def all(self, query: OrderQuery) -> Iterator[OrderState]:
        current: OrderQuery | None = query
        while current is not None:
            states, current = self.page(current)
            yield from states

    def advance(self, seconds: float, real_now: float) -> dict[str, object]:
        before = self.timeline.virtual(real_now)
        self.timeline.add_jump(real_now, seconds)
        after = self.timeline.virtual(real_now)
        changed = dict.fromkeys(index for _, index, _ in self.gen.changes(before, after))
        placed = {i: before < self.gen.purchase_time(i) for i in changed}
        return advance_summary(
            ("sellingPartnerId", self.seller_id),
            seconds,
            new_order_ids=[self.gen.order_id(i) for i in changed if placed[i]],
            updated_order_ids=[self.gen.order_id(i) for i in changed if not placed[i]],
        )
