"""Completing a buyer message's order on in-memory ports: which orders are asked of the
source, what is stored, what an outage or a refusal does. The flow over NATS and the
sandbox stays in ``test_order_context.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_orders.domain import OrderRow
from keybuzz_orders.order_context import OrderContext
from keybuzz_orders.order_source import SourceUnavailable
from keybuzz_shared.errors import is_outage
from orders_fakes import NOW, FakeOrders, fake_orders, shipped_order

TENANT = "t-shop"
HELD, NEW, FOREIGN = "407-1000000-0000001", "407-2000000-0000002", "407-3000000-0000003"


def order(order_id: str) -> OrderRow:
    return shipped_order(order_id, placed=NOW - timedelta(days=2), updated=NOW)


def context(fake: FakeOrders) -> OrderContext:
    return OrderContext(fake.ports.orders, fake.ports.order_units, fake.ports.source)


async def test_only_orders_not_held_with_a_full_read_are_asked_and_stored() -> None:
    fake = fake_orders()
    fake.source.add(TENANT, order(HELD), order(NEW))
    await fake.orders.upsert_orders(TENANT, AMAZON, [order(HELD)])
    report_only = "407-4000000-0000004"
    await fake.orders.upsert_orders(TENANT, AMAZON, [order(report_only)], partial=True)
    fake.source.add(TENANT, order(report_only))
    fetched = await context(fake).complete(TENANT, [HELD, NEW, report_only, "not-an-order", NEW])
    assert fetched == [NEW, report_only]
    assert fake.source.asked == [NEW, report_only]  # each once, none held with a full read
    assert await fake.orders.known_order_ids(TENANT, AMAZON, [HELD, NEW, report_only]) == {
        HELD,
        NEW,
        report_only,
    }
    assert fake.order_units.commits == 1


async def test_an_order_the_source_refuses_is_left_out_an_outage_goes_up() -> None:
    fake = fake_orders()
    fake.source.add(TENANT, order(NEW))
    assert await context(fake).complete(TENANT, [FOREIGN, NEW]) == [NEW]  # FOREIGN: not found
    fake.source.failures.append(SourceUnavailable("SP-API getOrder answered 503"))
    with pytest.raises(SourceUnavailable) as down:  # the event is kept and tried again
        await context(fake).complete(TENANT, ["407-5000000-0000005"])
    assert is_outage(down.value)
    assert fake.order_units.commits == 1  # nothing stored by the failed attempt


async def test_nothing_to_fetch_asks_nothing() -> None:
    fake = fake_orders()
    assert await context(fake).complete(TENANT, ["", "12345"]) == []
    assert fake.source.asked == [] and fake.order_units.commits == 0
