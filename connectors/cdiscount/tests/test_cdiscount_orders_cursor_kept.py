"""A backfill job keeps its page's cursor in PostgreSQL (``order_backfill_jobs``) across
restarts: a cursor Cdiscount's order source handed out before its listings were the kit's
still continues its window, and a cursor edited by hand is refused. No server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_connector_cdiscount.orders import shop_orders

START, END = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 8, 16, tzinfo=UTC)
LINK = "orders?pageIndex=2&pageSize=50"
# Written by the order source before the kit, for the window [START, END) and Octopia's
# next page LINK (the state's layout: the window's start and end, the link).
BEFORE_THE_KIT = "k9b_am03ANb_aoD9gL5vcmRlcnM_cGFnZUluZGV4PTImcGFnZVNpemU9NTA="


class FakeOctopia:
    """Octopia's last page of orders, whatever is asked; what was asked kept."""

    seller_id = "1"
    shop = {"seller_id": seller_id}  # what its logs name it by, as a requester says

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, str], str | None]] = []

    async def get_page(
        self, path: str, params: dict[str, str], cursor: str | None
    ) -> tuple[list[Any], str | None]:
        self.asked.append((path, params, cursor))
        return [
            {"orderId": "2608150000AAAAA", "status": "Shipped", "createdAt": "2026-08-15T00:00:00Z"}
        ], None

    async def get_json(self, path: str) -> Any:
        raise AssertionError("no order is asked by id here")


async def test_a_cursor_handed_out_before_the_kit_continues_its_window() -> None:
    octopia = FakeOctopia()
    page = await shop_orders(octopia).orders_created(start=START, end=END, cursor=BEFORE_THE_KIT)
    assert [(path, cursor) for path, _, cursor in octopia.asked] == [("/orders", LINK)]
    assert [o.external_id for o in page.items] == ["2608150000AAAAA"]
    assert page.next_cursor is None and page.complete_until == END


async def test_a_cursor_edited_by_hand_is_refused() -> None:
    octopia = FakeOctopia()
    with pytest.raises(ValueError, match="not a cursor"):
        await shop_orders(octopia).orders_created(start=START, end=END, cursor=BEFORE_THE_KIT[:-8])
    assert octopia.asked == []
