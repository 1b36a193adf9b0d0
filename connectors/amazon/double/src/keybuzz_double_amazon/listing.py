"""What the order listings (v0 getOrders, 2026 searchOrders) share: their date-window rules,
pricing and delivery windows (page tokens: the double kit's ``sealed``, Amazon-like)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from keybuzz_sandbox.clock import iso

from .errors import invalid_input, not_found
from .order_book import OrderBook, OrderQuery, OrderState
from .seed import DAY, MARKETPLACES, ItemFacts

T = TypeVar("T", bound=msgspec.Struct)

FRESHNESS_LAG = 120.0  # Amazon seconds: "...Before" must be at least two minutes before now


class WindowNames(msgspec.Struct, frozen=True):
    """One API's spelling of the four date filters."""

    created_after: str
    created_before: str
    updated_after: str
    updated_before: str


V0_NAMES = WindowNames("CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore")
V2026_NAMES = WindowNames("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")


def _check_order(after: float | None, before: float | None, names: tuple[str, str]) -> None:
    if after is not None and before is not None and before < after:
        raise invalid_input(f"{names[1]} must be equal to or after {names[0]}.")


def window_query(
    query: dict[str, Any],
    names: WindowNames,
    now: float,
    min_gap: float,
    lag: float,
    required: bool,
) -> OrderQuery:
    """The listing of the date filters, checked as the models' descriptions state: `min_gap`
    the "at least two minutes before the request" rule; the orders as they stood `lag` (real
    seconds Amazon takes to show a change in listings) ago."""
    created_after, created_before = query.get(names.created_after), query.get(names.created_before)
    updated_after, updated_before = query.get(names.updated_after), query.get(names.updated_before)
    by_creation = created_after is not None or created_before is not None
    by_update = updated_after is not None or updated_before is not None
    if by_creation and by_update:
        raise invalid_input(
            f"{names.created_after}/{names.created_before} cannot be combined with "
            f"{names.updated_after}/{names.updated_before}."
        )
    if required and created_after is None and updated_after is None:
        raise invalid_input(
            f"Either {names.created_after} or {names.updated_after} must be specified."
        )
    for name, value in (
        (names.created_before, created_before),
        (names.updated_before, updated_before),
    ):
        if value is not None and value > now - min_gap:
            raise invalid_input(
                f"{name} must be at least two minutes before the time of the request."
            )
    for name, value in ((names.created_after, created_after), (names.updated_after, updated_after)):
        if value is not None and value > now:
            raise invalid_input(f"{name} cannot be in the future.")
    _check_order(created_after, created_before, (names.created_after, names.created_before))
    _check_order(updated_after, updated_before, (names.updated_after, names.updated_before))
    return OrderQuery(
        snapshot=now - lag,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
    )


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
