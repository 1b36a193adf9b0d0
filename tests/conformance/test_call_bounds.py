"""The conformance suite: a marketplace paging as none should — every page of a shop's
listing of messages empty yet saying another follows, or the first page given again and
again — costs a few calls a poll, never a poll paging on until its deadline: each listing
stops at the page that misbehaves (``kit/listing.py``; the poller reads one repeated
page on, for a listing by instant), the poll ends cleanly, a marketplace with an
application call budget polls the shop no sooner than its interval (what the poll spent is
charged against the shop's share of it), and the double's other shops are polled all along. The double counts the pages it served wrong and
the listings they began (``faults.hostile_page``), so what is asserted is what was spent at
the marketplace. A marketplace whose listing of messages is one answer, not paged
(Rakuten's to-do list), has nothing to page wrong: skipped, said."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from keybuzz_sandbox.conformance import Fault, ShopDriver
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import Stack, connected, polled_since, shop_status
from tests.conformance.test_shop_api_connectors import (
    NEXT_POLL,
    first_polled,
    shops,
    skip_unless_answered,
)

PAGING: list[Fault] = ["EMPTY_PAGES_SAY_MORE", "PAGES_REPEAT"]
# Pages a listing asks under either fault: its first, the one after (the same again: the
# kit stops it), and one more where the poller reads a repeated page on. Followed, a
# listing asks hundreds until the poll's deadline.
PAGES_A_LISTING = 3


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@pytest.mark.parametrize("fault", PAGING)
async def test_a_listing_paging_wrong_stops_and_costs_its_shop_alone_a_few_calls(
    conformance: Stack, connector: Connector, driver: ShopDriver, fault: Fault
) -> None:
    skip_unless_answered(driver, fault)
    hostile, other = await shops(conformance, driver, 2)
    async with (
        connected(conformance, connector, hostile) as mine,
        connected(conformance, connector, other) as theirs,
    ):
        await asyncio.gather(first_polled(conformance, mine), first_polled(conformance, theirs))
        # A message to list, so that a page given again has items to repeat.
        await driver.buyer_writes(conformance.admin, hostile, "Bonjour, où en est ma commande ?")
        await driver.set_fault(conformance.admin, fault, [hostile])
        armed = await shop_status(conformance, mine)
        others = await shop_status(conformance, theirs)
        assert armed is not None and others is not None
        # Two polls under the fault, each ending cleanly (nothing cut at its deadline).
        once = await polled_since(conformance, mine, armed["lastSuccessAt"], NEXT_POLL, True)
        twice = await polled_since(conformance, mine, once["lastSuccessAt"], NEXT_POLL)
        pages, listings = await driver.hostile_pages(conformance.admin)
        # The other shop of the double polled meanwhile, its listings as they should be.
        await polled_since(conformance, theirs, others["lastSuccessAt"], NEXT_POLL)
    assert twice["consecutiveFailures"] == 0, twice
    assert listings >= 1, f"{connector.marketplace}'s double served no listing under {fault}"
    # A listing begun before the fault was armed may have paged on under it: one at most.
    assert pages <= PAGES_A_LISTING * (listings + 1), (pages, listings)
    declared = conformance.poller.runtime.settings.shop_api(connector.marketplace)
    if declared.app_calls is None:
        return
    # The application's budget is charged what the poll spent (``RoundPace``): ample here,
    # the shop's next poll comes no sooner than its interval; where the budget is tight,
    # eBay's own tests show a poll that spent more put off (test_ebay_app_call_budget.py).
    gap = _seconds(twice["lastPollAt"], twice["nextPollAt"])
    assert gap >= declared.poll_interval_seconds * 0.99, (gap, twice)
