"""A backfill job keeps its page's cursor in PostgreSQL (``order_backfill_jobs``) across
restarts: a cursor Back Market's order source handed out before its listings were the
kit's (``created|<since>|<page>``, text) still continues its window at its page; cursors
are the kit's since, and one edited by hand is refused. No server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_connector_backmarket.orders import shop_orders

START, END = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 8, 16, tzinfo=UTC)
BEFORE_THE_KIT = "created|2026-08-01T00:00:00Z|3"


class FakeBackMarket:
    """``GET /ws/orders``' pages: ``pages`` of one order each; what was asked kept."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.queries: list[dict[str, str]] = []

    async def get_json(self, path: str, params: dict[str, str], *, operation: str = "") -> Any:
        assert path == "/ws/orders"
        self.queries.append(params)
        number = int(params["page"])
        order = {
            "order_id": 100 + number,
            "state": 9,
            "date_creation": f"2026-08-{number:02d}T10:00:00Z",
        }
        return {"results": [order], "next": "more" if number < self.pages else None}


async def test_a_cursor_handed_out_before_the_kit_continues_at_its_page() -> None:
    shop = FakeBackMarket(pages=4)
    orders = shop_orders(shop)
    page = await orders.orders_created(start=START, end=END, cursor=BEFORE_THE_KIT)
    assert shop.queries == [
        {"date_creation": "2026-08-01T00:00:00Z", "page": "3", "page-size": "50"}
    ]
    assert [o.external_id for o in page.items] == ["103"] and page.next_cursor is not None
    last = await orders.orders_created(start=START, end=END, cursor=page.next_cursor)
    assert shop.queries[-1]["page"] == "4" and last.next_cursor is None


@pytest.mark.parametrize(
    "edited", ["created|2026-08-01T00:00:00Z|0", "modified|2026-08-01T00:00:00Z|3", "page 3"]
)
async def test_a_cursor_edited_by_hand_or_of_the_other_listing_is_refused(edited: str) -> None:
    shop = FakeBackMarket(pages=4)
    with pytest.raises(ValueError, match="not a cursor"):
        await shop_orders(shop).orders_created(start=START, end=END, cursor=edited)
    assert shop.queries == []
