"""A Back Market shop's orders as the seam's OrderSource against the double over HTTP
(every request checked against Back Market's description): a listing's pages add up to
the whole, each order once; a creation window holds its orders only and stops reading
once a page is wholly past its end (a 90-day backfill reads its windows, not the shop's
whole history again for each)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from backmarket_connector_helpers import Checked, client_for
from keybuzz_connector_backmarket.orders import shop_orders
from keybuzz_shared.connectors.kit import ListedOrders, Requester
from keybuzz_shared.connectors.seam import OrderSummary

PARIS = 1  # the double's largest seeded shop: 240 orders, five pages of 50


@pytest.fixture
async def client(sandbox_url: str, http: httpx.AsyncClient, admin: httpx.AsyncClient) -> Requester:
    shop: dict[str, Any] = next(
        s for s in (await admin.get("/shops")).json() if s["number"] == PARIS
    )
    return client_for(sandbox_url, http, shop)


async def every(orders: ListedOrders, start: datetime, end: datetime | None) -> list[OrderSummary]:
    found: list[OrderSummary] = []
    cursor = None
    while True:
        if end is None:
            page = await orders.orders(since=start, cursor=cursor)
        else:
            page = await orders.orders_created(start=start, end=end, cursor=cursor)
        assert page.unreadable == ()
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def test_a_creation_window_holds_its_orders_and_stops_past_its_end(
    client: Requester, checked: Checked
) -> None:
    orders = shop_orders(client)
    whole = await every(orders, datetime(2000, 1, 1, tzinfo=UTC), None)
    ids = [o.external_id for o in whole]
    assert len(ids) == len(set(ids)) and len(ids) > 150
    whole_calls = checked.calls("GET", "/ws/orders")
    first = min(o.created_at for o in whole)
    start, end = first, first + timedelta(days=10)
    window = await every(orders, start, end)
    expected = {o.external_id for o in whole if start <= o.created_at < end}
    assert {o.external_id for o in window} == expected and expected
    assert checked.calls("GET", "/ws/orders") - whole_calls <= 2 < whole_calls
