"""A backfill job keeps its page's cursor in PostgreSQL (``order_backfill_jobs``) across
restarts: a cursor Mirakl's order source handed out before its listings were the kit's
still continues its window where it stood, and one of the other listing is refused. No
server."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_connector_mirakl.orders import iso_millis as mirakl_time
from keybuzz_connector_mirakl.orders import shop_orders

START, END = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 8, 16, tzinfo=UTC)
LAST = datetime(2026, 8, 3, 12, 0, 0, 123000, tzinfo=UTC)
# Written by the order source before the kit for a listing by creation of [START, END),
# its next page at offset 90, the last order read O00042-A created at LAST (the state's
# layout: by update or not, the window, the offset, the last order's place).
BEFORE_THE_KIT = "lcLW_2ptNwDW_2qA_YBaktf_HVNTAGpwgsCoTzAwMDQyLUE="


def order(number: int, created: datetime) -> dict[str, Any]:
    return {
        "order_id": f"O{number:05d}-A",
        "order_state": "SHIPPED",
        "created_date": mirakl_time(created),
        "last_updated_date": mirakl_time(created),
    }


class FakeOR11:
    """OR11's last page: the last order read again, and one after it."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, operation: str = ""
    ) -> Any:
        self.queries.append(dict(params))
        listed = [order(42, LAST), order(43, datetime(2026, 8, 4, tzinfo=UTC))]
        return {"orders": listed, "total_count": 92}


async def test_a_cursor_handed_out_before_the_kit_continues_where_it_stood() -> None:
    or11 = FakeOR11()
    page = await shop_orders(or11).orders_created(start=START, end=END, cursor=BEFORE_THE_KIT)
    [query] = or11.queries
    assert query["offset"] == "90" and query["start_date"] == mirakl_time(START)
    assert query["end_date"] == mirakl_time(END)
    assert [o.external_id for o in page.items] == ["O00043-A"]  # O00042-A was read
    assert page.next_cursor is None and page.complete_until == END


async def test_a_creation_cursor_is_refused_to_the_update_listing() -> None:
    or11 = FakeOR11()
    with pytest.raises(ValueError, match="not a cursor"):
        await shop_orders(or11).orders(since=START, cursor=BEFORE_THE_KIT)
    assert or11.queries == []
