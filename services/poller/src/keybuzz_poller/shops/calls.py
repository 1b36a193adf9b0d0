"""A poll's listings of a shop whose marketplace allows so many calls a day: each page's
call counted before it is made, and made only while the day's count stays within the plan's
pace (``allowance.DayPlan.calls_allowed``). The count is in the database, so neither a
restart nor another instance nor a burst of pages lets a day spend more; a listing cut so
ends there (its pages read so far stored, the cursor past them) and the next poll goes on.

A session that counts its calls (``ports.CountsCalls``) corrects the count by what each
page really spent (none, or several); otherwise each page is one call. A page that makes
several (a listing of many list pages) is told how far the count may go
(``ports.LimitsCalls``): it stops before the call that would pass the day's pace, nothing of
it stored, the cursor where it was; the next poll lists from there again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from keybuzz_shared.connectors.seam import AllowanceSpent

from keybuzz_poller.shops.allowance import DayPlan, seconds_into_day
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.ports import CountsCalls, LimitsCalls, ShopPorts

log = logging.getLogger(__name__)
Item = TypeVar("Item")
LEARNED_DAYS = 28  # the buyer messages a shop's plan learns its hours from


async def within_allowance(
    ports: ShopPorts, shop: Shop, pages: AsyncIterator[Item]
) -> AsyncIterator[Item]:
    """``pages``, each asked only once its call is counted within the day's allowance."""
    allowance = ports.reading(shop.marketplace).allowance
    if allowance is None:
        async for page in pages:
            yield page
        return
    if ports.calls is None:
        raise RuntimeError(f"{shop.marketplace} has a daily allowance and no call counts")
    calls = ports.calls
    try:
        while True:
            day, at = seconds_into_day(ports.clock())
            plan = await plan_of(ports, shop, day)
            assert plan is not None
            allowed = plan.calls_allowed(at)
            if not await calls.reserve_call(shop, day, allowed):
                _left_for_later(shop)
                await _close(pages)
                return
            before = _counted(ports, shop)
            await _limit(ports, shop, day, allowed, before)
            try:
                page = await anext(pages)
            except StopAsyncIteration:  # the last page was read: this call was not made
                await _correct(ports, shop, day, before, made_by_default=0)
                return
            except AllowanceSpent:  # its calls up to the pace made, none past it
                await _correct(ports, shop, day, before, made_by_default=1)
                _left_for_later(shop)
                await _close(pages)
                return
            except Exception:  # a failed call counts at the marketplace all the same
                await _correct(ports, shop, day, before, made_by_default=1)
                raise
            await _correct(ports, shop, day, before, made_by_default=1)
            yield page
    finally:
        if isinstance(ports.source, LimitsCalls):
            ports.source.limit_allowance_calls(shop, None)


def _left_for_later(shop: Shop) -> None:
    log.info(
        "listing left for a later poll: the day's calls spent so far",
        extra={"tenant_id": shop.tenant_id, "marketplace": shop.marketplace},
    )


async def _limit(ports: ShopPorts, shop: Shop, day: date, allowed: int, before: int | None) -> None:
    """Tells a session whose page may make several calls how far its count may go: the
    page's reserved call, and those the day's pace leaves beyond it."""
    if before is None or not isinstance(ports.source, LimitsCalls):
        return
    assert ports.calls is not None
    spent = await ports.calls.calls_spent(shop, day)  # the page's reserved call included
    ports.source.limit_allowance_calls(shop, before + 1 + max(0, allowed - spent))


async def plan_of(ports: ShopPorts, shop: Shop, day: date) -> DayPlan | None:
    """The shop's plan of ``day`` (None without an allowance): its marketplace's profile,
    leaning on the hours its own buyers wrote in the last ``LEARNED_DAYS`` days; made once a
    day per shop and process."""
    allowance = ports.reading(shop.marketplace).allowance
    if allowance is None or ports.calls is None:
        return None
    kept = ports.plans.get(shop.key)
    if kept is not None and kept[0] == day:
        return kept[1]
    start = datetime.combine(day, time(), UTC) - timedelta(days=LEARNED_DAYS)
    learned = await ports.calls.buyer_hours(shop, start)
    plan = dataclasses.replace(allowance, learned=learned).plan(day)
    ports.plans[shop.key] = (day, plan)
    return plan


COST_WEIGHT = 0.3  # how much a poll's own calls move the shop's calls per poll


def calls_per_poll(ports: ShopPorts, shop: Shop, day: date, spent: int) -> float:
    """What the shop's polls spend lately (an average leaning on the latest), from the day's
    count after each poll: a listing of several pages in busy hours makes the plan space
    the polls out before the calls run out, not after. A poll that made no call (refused
    by the pace) says nothing of it."""
    kept = ports.poll_costs.get(shop.key)
    mean = kept[2] if kept is not None else 1.0
    if kept is not None and kept[0] == day and spent - kept[1] >= 1:
        mean = (1 - COST_WEIGHT) * mean + COST_WEIGHT * (spent - kept[1])
    ports.poll_costs[shop.key] = (day, spent, mean)
    return mean


def _counted(ports: ShopPorts, shop: Shop) -> int | None:
    return ports.source.allowance_calls(shop) if isinstance(ports.source, CountsCalls) else None


async def _correct(
    ports: ShopPorts, shop: Shop, day: date, before: int | None, made_by_default: int
) -> None:
    """The day's count set right once the call is made: the session's own count when it
    keeps one, else ``made_by_default`` (one was counted in advance)."""
    assert ports.calls is not None
    after = _counted(ports, shop)
    made = max(0, after - before) if after is not None and before is not None else made_by_default
    if made != 1:
        await ports.calls.adjust_calls(shop, day, made - 1)


async def _close(pages: AsyncIterator[object]) -> None:
    close = getattr(pages, "aclose", None)
    if close is not None:
        await close()
