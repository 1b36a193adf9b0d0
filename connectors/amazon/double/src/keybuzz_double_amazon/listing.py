"""What the order listings (v0 getOrders, 2026 searchOrders) share: their date-window rules,
pricing and delivery windows (page tokens: the double kit's ``sealed``, Amazon-like)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from keybuzz_sandbox.clock import iso

from .errors import invalid_input, not_found
from .order_book import OrderBook, OrderQuery, OrderState
from .seed import DAY, MARKETPLACES, ItemFacts

if TYPE_CHECKING:
    from .spapi import CallContext

FRESHNESS_LAG = 120.0  # Amazon seconds: "...Before" must be at least two minutes before now


class WindowNames(msgspec.Struct, frozen=True):
    """One API's spelling of the four date filters."""

    created_after: str
    created_before: str
    updated_after: str
    updated_before: str


V0_NAMES = WindowNames("CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore")
V2026_NAMES = WindowNames("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")


def window_query(ctx: CallContext, names: WindowNames, required: bool) -> OrderQuery:
    """The listing of the call's date filters, checked as the models' descriptions state
    (a "...Before" at least two minutes before the request); the orders as they stood the
    settings' listing lag ago."""
    query, now, clock = ctx.query, ctx.now, ctx.sandbox.clock
    min_gap = clock.real_duration(FRESHNESS_LAG)
    lag = clock.real_duration(ctx.sandbox.settings.listing_lag_seconds)
    by: dict[str, Any] = {
        field: query.get(getattr(names, field)) for field in WindowNames.__struct_fields__
    }
    pairs = (
        (names.created_after, names.created_before),
        (names.updated_after, names.updated_before),
    )
    given = [(a, b) for a, b in pairs if query.get(a) is not None or query.get(b) is not None]
    if len(given) == 2:
        raise invalid_input(f"{'/'.join(pairs[0])} cannot be combined with {'/'.join(pairs[1])}.")
    if required and by["created_after"] is None and by["updated_after"] is None:
        raise invalid_input(f"Either {pairs[0][0]} or {pairs[1][0]} must be specified.")
    for after, before in given:  # one pair at most
        start, end = query.get(after), query.get(before)
        if end is not None and end > now - min_gap:
            raise invalid_input(
                f"{before} must be at least two minutes before the time of the request."
            )
        if start is not None and start > now:
            raise invalid_input(f"{after} cannot be in the future.")
        if start is not None and end is not None and end < start:
            raise invalid_input(f"{before} must be equal to or after {after}.")
    return OrderQuery(snapshot=now - lag, **by)


def watermark(query: OrderQuery, names: WindowNames) -> dict[str, str]:
    """The '...Before' the answer reports, by the API's name: the listing's upper bound."""
    # Never later than what the listing could see: that is the safe next cursor.
    if query.updated_after is not None or query.updated_before is not None:
        name, bound = names.updated_before, query.updated_before
    elif query.created_after is not None or query.created_before is not None:
        name, bound = names.created_before, query.created_before
    else:
        return {}
    return {name: iso(min(bound or query.snapshot, query.snapshot))}


def find_order(book: OrderBook, order_id: str, now: float) -> OrderState:
    state = book.find(order_id, now)
    if state is None:
        raise not_found(f"Order {order_id} was not found.")
    return state


def check_marketplaces(ids: list[str] | None, book: OrderBook) -> bool:
    """False when the seller does not sell in any of the requested marketplaces."""
    if ids is None:
        return True
    unknown = [m for m in ids if m not in MARKETPLACES]
    if unknown:
        raise invalid_input(f"Invalid marketplace identifier(s): {', '.join(unknown)}.")
    return book.gen.spec.marketplace_id in ids


def check_page_size(value: int | None, name: str) -> int:
    if value is None:
        return 100
    if not 1 <= value <= 100:
        raise invalid_input(f"{name} must be between 1 and 100.")
    return value


# --- prices (EU prices include VAT; Amazon reports the VAT part as tax) -------


def amount(cents: int) -> str:
    return f"{cents / 100:.2f}"


def line_cents(item: ItemFacts) -> int:
    return item.product.unit_price_cents * item.quantity


def vat_part(cents: int, rate: float) -> int:
    return round(cents - cents / (1 + rate))


def order_total_cents(state: OrderState) -> int:
    return sum(line_cents(i) + i.shipping_cents for i in state.facts.items)


class Windows(msgspec.Struct, frozen=True):
    earliest_ship: int
    latest_ship: int
    earliest_delivery: int
    latest_delivery: int


def windows(book: OrderBook, state: OrderState) -> Windows:
    placed = state.facts.timeline.purchase
    return Windows(*(book.real_ts(placed + days * DAY) for days in (1, 2, 3, 5)))
