"""What a notification's summary lacks, completed from the order source on in-memory ports:
each wanted order fetched once and stored with its fetch done in one unit of work; a
refusal ends the fetch, an outage leaves it for the next lease. The queue and the
sandbox's getOrder stay in ``test_order_notifications.py``."""

from __future__ import annotations

from datetime import timedelta

from keybuzz_connector_amazon.names import AMAZON
from keybuzz_orders.domain import OrderRow
from keybuzz_orders.notifications.order_details import OrderDetails
from keybuzz_orders.order_source import SourceUnavailable
from orders_fakes import NOW, fake_orders, shipped_order

TENANT = "t-shop"
MINE, FOREIGN = "407-1000000-0000001", "407-2000000-0000002"


def order(order_id: str) -> OrderRow:
    return shipped_order(order_id, placed=NOW - timedelta(days=1), updated=NOW, customer_name="Ann")


async def test_wanted_details_are_fetched_stored_and_done() -> None:
    fake = fake_orders()
    fake.source.add(TENANT, order(MINE))
    for order_id in (MINE, MINE, FOREIGN):
        await fake.details.want_details(TENANT, AMAZON, order_id)
    details = OrderDetails(fake.ports.details)
    assert await details.fetch_due() == 2
    assert sorted(fake.source.asked) == [MINE, FOREIGN]  # one call per order
    assert await fake.details.known_order_ids(TENANT, AMAZON, [MINE, FOREIGN]) == {MINE}
    assert fake.details.fetches == {}  # FOREIGN: refused, so done too
    assert fake.detail_units.commits == 1
    assert await details.fetch_due() == 0


async def test_an_outage_leaves_the_fetch_for_the_next_lease() -> None:
    fake = fake_orders()
    fake.source.add(TENANT, order(MINE))
    await fake.details.want_details(TENANT, AMAZON, MINE)
    fake.source.failures.append(SourceUnavailable("SP-API getOrder answered 503"))
    details = OrderDetails(fake.ports.details)
    assert await details.fetch_due() == 1
    assert list(fake.details.fetches) == [(TENANT, AMAZON, MINE)] and fake.details.orders == {}
    assert await details.fetch_due() == 0  # leased
    fake.details.now = lambda: NOW + timedelta(minutes=5)  # the lease lapsed
    assert await details.fetch_due() == 1
    assert fake.details.fetches == {} and len(fake.details.orders) == 1
