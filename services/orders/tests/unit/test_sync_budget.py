"""Order syncs within a marketplace's application call budget (eBay's Fulfillment API, every
seller's calls together) on in-memory ports: each shop's interval grows with the number of
shops syncing, the others keep ``ORDERS_SYNC_INTERVAL_SECONDS``. The end-to-end run on
eBay's double is ``connectors/ebay/tests/test_ebay_order_calls.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_connector_ebay.settings import EBAY, EbaySettings
from keybuzz_orders.sync import OrderSync
from keybuzz_shared.connectors.seam import AppCallBudget
from orders_fakes import FR, NOW, FakeOrders, fake_orders

DAY = 86_400
CURSOR = NOW - timedelta(hours=1)


def ebay_budget() -> AppCallBudget:
    """What eBay's connector declares by default for its orders' Fulfillment API calls."""
    budget = EbaySettings().shop_api(EBAY).order_calls
    assert budget is not None
    return budget


def sync(fake: FakeOrders, budget: AppCallBudget) -> OrderSync:
    ports = replace(fake.ports.sync, sources={EBAY: fake.source}, budgets=lambda: {EBAY: budget})
    return OrderSync(ports)


async def sellers(fake: FakeOrders, count: int) -> None:
    for n in range(count):
        await fake.orders.start_sync(f"t-ebay-{n}", EBAY, f"eBayUser{n}x", CURSOR)


@pytest.mark.parametrize("count", [1, 100, 11_363, 11_400, 20_000])
async def test_a_shop_s_syncs_are_spaced_by_the_shops_sharing_the_budget(count: int) -> None:
    fake = fake_orders()
    await sellers(fake, count)
    await fake.orders.start_sync("t-amazon", AMAZON, FR, CURSOR)  # not eBay's: not counted
    budget = ebay_budget()
    [told] = await sync(fake, budget).budgeted()
    share = budget.calls_per_day * budget.poll_share
    assert (told.marketplace, told.shops, told.declared_interval) == (EBAY, count, 900.0)
    assert told.interval == max(900.0, count * budget.calls_per_poll * DAY / share)
    # Whatever the number of sellers, their rounds spend at most the syncs' share a day.
    assert told.calls_a_day <= share + 1e-6
    if count <= 11_363:  # 1,200,000 calls a day: 11,363 sellers' rounds every 900 s...
        assert told.interval == pytest.approx(900.0, abs=1.0)
    else:  # ...past them each seller's rounds grow apart
        assert told.interval > 900.0


async def test_the_interval_follows_sellers_leaving() -> None:
    fake = fake_orders()
    await sellers(fake, 200)
    budget = AppCallBudget(calls_per_day=10_000, calls_per_poll=1.0, poll_share=0.5)
    syncing = sync(fake, budget)
    [crowded] = await syncing.budgeted()
    assert crowded.interval == pytest.approx(200 * DAY / 5_000)  # 3,456 s
    for n in range(150):
        await syncing.stop(f"t-ebay-{n}", "connection.disconnected: revoked")
    [quiet] = await syncing.budgeted(fresh=True)
    assert (quiet.shops, quiet.interval) == (50, 900.0)


async def test_due_rounds_of_a_budgeted_marketplace_wait_for_its_longer_interval() -> None:
    fake = fake_orders()
    await sellers(fake, 2)
    await fake.orders.start_sync("t-amazon", AMAZON, FR, CURSOR)
    for tenant in ("t-ebay-0", "t-ebay-1", "t-amazon"):
        fake.source.add(tenant)
    # Two sellers on a budget of 96 calls a day, all of it for syncs: 1,800 s each.
    budget = AppCallBudget(calls_per_day=96, calls_per_poll=1.0, poll_share=1.0)
    syncing = sync(fake, budget)
    fake.orders.now = lambda: NOW + timedelta(seconds=901)  # the common interval is over
    assert [r.tenant_id for r in await syncing.sync_due()] == ["t-amazon"]
    fake.orders.now = lambda: NOW + timedelta(seconds=1_801)  # eBay's is over too
    assert sorted(r.tenant_id for r in await syncing.sync_due()) == ["t-ebay-0", "t-ebay-1"]
