"""What the order APIs, the report and the notifications share: the
marketplaces and page size checked, pricing and delivery windows."""

from __future__ import annotations

import msgspec

from .errors import invalid_input
from .order_book import OrderBook, OrderState
from .seed import DAY, MARKETPLACES, ItemFacts


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
