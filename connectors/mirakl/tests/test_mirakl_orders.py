"""Mirakl's orders in the seam's terms, without a server: every state of OR11 in Mirakl's
OpenAPI description mapped, an order's lines with their incidents and refunds, order ids,
and OR11's offset paging listing each order once when orders leave an update window
between two pages (a fake OR11 of the unit tier: filters, creation order, offsets)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from keybuzz_connector_mirakl.connector import ORDER_IDS, MiraklSettings
from keybuzz_connector_mirakl.orders import (
    LINE_STATES,
    ORDER_STATES,
    OVERLAP,
    read_order,
    shop_orders,
)
from keybuzz_connector_mirakl.orders import iso_millis as mirakl_time
from keybuzz_double_mirakl.contract import DESCRIBED
from keybuzz_shared.connectors.kit import ApiSpec, CallErrors, ListedOrders
from keybuzz_shared.connectors.seam import (
    DELIVERY_STATUSES,
    ORDER_STATUSES,
    AnswerUnreadable,
    OrderSummary,
)

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def _enum(schema: str, field: str) -> set[str]:
    """The values Mirakl's description lists for a field, deprecated ones included."""
    words = DESCRIBED.published()["components"]["schemas"][schema]["properties"][field][
        "description"
    ]
    return set(re.findall(r'`"([A-Z_]+)"`', words))


def test_every_order_and_line_state_of_the_description_is_mapped() -> None:
    order_states = _enum("OR11_Response_200_Orders", "order_state")
    line_states = _enum("OR11_Response_200_Orders_OrderLines", "order_line_state")
    assert {"STAGING", "TO_COLLECT", "WAITING_REFUND"} <= order_states  # the enum was read
    assert set(ORDER_STATES) == order_states
    assert set(ORDER_STATES) | set(LINE_STATES) == line_states
    for status, delivery in ORDER_STATES.values():
        assert status in ORDER_STATUSES and delivery in (None, *DELIVERY_STATUSES)
    assert ORDER_STATES["SOMETHING_NEW"] == ("PENDING", None)  # shown, never lost


def order_json(
    number: int, created: datetime, updated: datetime, state: str = "SHIPPED", **extra: Any
) -> dict[str, Any]:
    lines = extra.pop(
        "lines",
        [
            {
                "order_line_id": f"O{number}-A-1",
                "order_line_state": state,
                "quantity": 2,
                "offer_sku": "SKU-1",
                "product_title": "Lampe",
                "price_unit": 34.5,
                "refunds": [],
            }
        ],
    )
    return {
        "order_id": f"O{number:05d}-A",
        "order_state": state,
        "created_date": mirakl_time(created),
        "last_updated_date": mirakl_time(updated),
        "currency_iso_code": "EUR",
        "customer": {"firstname": "Léa", "lastname": "Martin"},
        "order_lines": lines,
        **extra,
    }


def test_an_order_with_an_incident_and_a_refund_shows_both_on_its_lines() -> None:
    lines = [
        {
            "order_line_id": "X-A-1",
            "order_line_state": "INCIDENT_OPEN",
            "quantity": 1,
            "product_title": "Tente",
            "price_unit": 79.0,
            "shipped_date": "2026-09-02T10:00:00Z",
            "refunds": [{"id": "R0", "amount": 10.0, "shipping_amount": 4.99}],
        },  # partial
        {
            "order_line_id": "X-A-2",
            "order_line_state": "REFUNDED",
            "quantity": 1,
            "offer_sku": "SKU-2",
            "price_unit": 45.0,
            "refunds": [{"id": "R1", "amount": 45.0, "reason_code": "PRODUCT_DAMAGED"}],
        },
    ]
    order = read_order(
        order_json(1, T0, T0 + timedelta(days=3), "RECEIVED", lines=lines, has_incident=True)
    )
    assert (order.external_id, order.state, order.status) == ("O00001-A", "RECEIVED", "DELIVERED")
    assert order.delivery_status == "DELIVERED" and order.buyer_name == "Léa Martin"
    incident, refunded = order.lines
    assert (incident.state, incident.status) == ("INCIDENT_OPEN", "DELIVERED")  # the order's
    assert incident.refunded_amount == Decimal("14.99")  # its price's part and shipping
    assert refunded.refunded_amount == Decimal("45.0")
    assert read_order(order_json(3, T0, T0)).lines[0].refunded_amount is None  # none listed
    assert (refunded.state, refunded.status) == ("REFUNDED", "RETURNED")
    assert refunded.product_name == "SKU-2" and str(refunded.unit_price) == "45.0"
    assert refunded.currency == "EUR" and order.shipped_at == datetime(2026, 9, 2, 10, tzinfo=UTC)
    every_line_refunded = order_json(2, T0, T0, "CLOSED", fully_refunded=True)
    assert read_order(every_line_refunded).status == "RETURNED"
    with pytest.raises(ValueError):
        read_order({"order_id": "X-A", "order_state": "SHIPPED"})  # no creation date


def test_an_orders_sales_channel_is_its_label_else_its_code_else_none() -> None:
    def channel_of(**extra: Any) -> str | None:
        return read_order(order_json(1, T0, T0, **extra)).sales_channel

    assert channel_of(channel={"code": "ES", "label": "Leroy Merlin España"}) == (
        "Leroy Merlin España"
    )
    assert channel_of(channel={"code": "ES"}) == "ES"
    assert channel_of(channel={"code": "ES", "label": ""}) == "ES"
    assert channel_of() is None  # an operator selling on one channel names none


def test_order_ids_are_the_commercial_id_a_hyphen_and_the_shop_letter() -> None:
    ids = ORDER_IDS
    assert ids.is_order_id("Order_00010-A") and ids.is_order_id("BOU2345000012-A")
    for other in ("407-8949262-6149120", "2611230948AAACH", "Saint-D", "1234567-AB", "-A"):
        assert not ids.is_order_id(other), other
    text = "Commande BOU2345000012-A livrée à Saint-Denis, voir aussi 1234-B."
    assert ids.order_ids_in(text) == ["BOU2345000012-A", "1234-B"]


# --- OR11's offset paging --------------------------------------------------------------------


class FakeOR11:
    """OR11 as Mirakl's description and guide have it: the update or creation window
    (bounds inclusive), creation order then order id, ``max`` from ``offset``, and
    ``total_count``; ``between`` runs after each answer (orders changing meanwhile)."""

    spec = ApiSpec("Mirakl", logging.getLogger(__name__), CallErrors.labelled("Mirakl"))
    shop = {"shop_id": "2001"}  # what an order left out is logged with, as a requester says

    def __init__(self, orders: list[dict[str, Any]]) -> None:
        self.orders = {o["order_id"]: o for o in orders}
        self.queries: list[dict[str, str]] = []
        self.between: Callable[[int], None] = lambda calls: None

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, operation: str = ""
    ) -> Any:
        assert (operation, path) == ("OR11", "/api/orders")
        assert DESCRIBED.query_problems("OR11", params) == []
        self.queries.append(dict(params))

        def within(value: Any, low: str | None, high: str | None) -> bool:
            if not isinstance(value, str):
                return True  # an order Mirakl sends broken: listed all the same
            moment = datetime.fromisoformat(value)
            return (low is None or moment >= datetime.fromisoformat(low)) and (
                high is None or moment <= datetime.fromisoformat(high)
            )

        matching = sorted(
            (
                o
                for o in self.orders.values()
                if within(
                    o["last_updated_date"],
                    params.get("start_update_date"),
                    params.get("end_update_date"),
                )
                and within(o.get("created_date"), params.get("start_date"), params.get("end_date"))
                and ("order_ids" not in params or o["order_id"] in params["order_ids"].split(","))
            ),
            key=lambda o: (str(o.get("created_date")), o["order_id"]),
        )
        offset, size = int(params.get("offset", "0")), int(params.get("max", "10"))
        answer = {"orders": matching[offset : offset + size], "total_count": len(matching)}
        self.between(len(self.queries))
        return answer


async def listed(source: ListedOrders, since: datetime) -> list[OrderSummary]:
    found: list[OrderSummary] = []
    page = await source.orders(since=since)
    found += page.items
    while page.next_cursor is not None:
        page = await source.orders(since=since, cursor=page.next_cursor)
        found += page.items
    return found


@pytest.mark.parametrize("leaving", [OVERLAP - 3, OVERLAP + 15])
async def test_an_update_listing_lists_each_order_once_while_orders_leave_its_window(
    leaving: int,
) -> None:
    orders = [
        order_json(n, T0 + timedelta(minutes=n), T0 + timedelta(days=1, minutes=n))
        for n in range(1, 181)
    ]
    fake = FakeOR11(orders)
    now = T0 + timedelta(days=2)
    moved: set[str] = set()

    def orders_change(calls: int) -> None:
        if calls == 1:  # after the first page: orders it listed change again, after ``now``
            for order in orders[5 : 5 + leaving]:
                order["last_updated_date"] = mirakl_time(now + timedelta(minutes=1))
                moved.add(order["order_id"])

    fake.between = orders_change
    source = dataclasses.replace(shop_orders(fake, page_size=40), now=lambda: now)
    found = await listed(source, T0)
    ids = [o.external_id for o in found]
    assert len(ids) == len(set(ids)) == len(orders)  # each once, none skipped
    assert all(q["end_update_date"] == mirakl_time(now) for q in fake.queries)  # one window
    offsets = [int(q["offset"]) for q in fake.queries]
    assert offsets[1] == 40 - OVERLAP and max(offsets) < 180


async def test_a_creation_window_excludes_its_end_and_orders_by_id_come_100_a_call() -> None:
    orders = [order_json(n, T0 + timedelta(hours=n), T0 + timedelta(hours=n)) for n in range(250)]
    fake = FakeOR11(orders)
    source = shop_orders(fake, page_size=30)
    end = T0 + timedelta(hours=100)
    found: list[OrderSummary] = []
    page = await source.orders_created(start=T0, end=end)
    found += page.items
    while page.next_cursor is not None:
        page = await source.orders_created(start=T0, end=end, cursor=page.next_cursor)
        found += page.items
    assert [o.external_id for o in found] == [f"O{n:05d}-A" for n in range(100)]
    assert page.complete_until == end
    fake.queries.clear()
    asked = [f"O{n:05d}-A" for n in range(0, 250, 2)] + ["NOPE-A", "A,B-A"]
    by_id = await source.orders_by_id(asked)
    assert sorted(o.external_id for o in by_id) == sorted(asked[:-2])
    assert [len(q["order_ids"].split(",")) for q in fake.queries] == [100, 26]
    with pytest.raises(ValueError):
        await source.orders(since=T0, cursor="not-a-cursor")


def test_an_operators_or11_frequency_paces_its_order_listings_else_once_a_minute() -> None:
    entries = [
        {
            "code": "BOULANGER",
            "name": "Boulanger",
            "baseUrl": "https://x.example",
            "responseHours": 24,
            "frequencies": {"OR11": 300},
        },
        {
            "code": "DECATHLON",
            "name": "Decathlon",
            "baseUrl": "https://y.example",
            "responseHours": 24,
        },
    ]
    settings = MiraklSettings(mirakl_catalogue=json.dumps(entries))
    paced = settings.shop_api("BOULANGER")
    default = settings.shop_api("DECATHLON")
    assert paced is not None and paced.operator.every("OR11") == 300
    assert default is not None and default.operator.every("OR11") == 60  # [official]


async def test_an_order_it_cannot_read_is_left_out_and_said_an_answer_off_or11_refused() -> None:
    orders = [order_json(n, T0 + timedelta(hours=n), T0 + timedelta(hours=n)) for n in range(5)]
    orders[2]["created_date"] = None
    orders[3]["order_lines"] = "not a list"
    source = shop_orders(FakeOR11(orders))
    page = await source.orders_created(start=T0, end=T0 + timedelta(days=1))
    assert [o.external_id for o in page.items] == ["O00000-A", "O00001-A", "O00004-A"]
    assert len(page.unreadable) == 2 and page.next_cursor is None
    assert any("created_date" in reason for reason in page.unreadable)

    class NotOR11:
        errors = CallErrors.labelled("Mirakl")

        async def get_json(
            self, path: str, params: Mapping[str, str] | None = None, *, operation: str = ""
        ) -> Any:
            return {"data": []}  # an M11 answer, say

    with pytest.raises(AnswerUnreadable, match="OR11"):
        await shop_orders(NotOR11()).orders(since=T0)
