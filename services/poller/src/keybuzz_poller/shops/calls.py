"""A poll's listings of a shop whose marketplace allows so many calls a day: each page's
call counted before it is made, and made only while the day's count stays within the plan's
pace (``allowance.DayPlan.calls_allowed``). The count is in the database, so neither a
restart nor another instance nor a burst of pages lets a day spend more; a listing cut so
ends there (its pages read so far stored, the cursor past them) and the next poll goes on.

A poll reserves the calls its shop's polls spend lately before it starts: in the claim that
leases the shop, as the last poll's end asked them (``polling/shops_store.py``), or else in
the statement that reads the shop's row (``ShopStore.started``); all or none, within the
pace. It spends them with no statement, and gives back what it did not spend in the
statement that ends it (the scheduler's, ``DayCalls``): a poll that finds nothing new
counts its calls in no statement of its own, and a crash between the two leaves them
counted (spent for the day, never overspent).

A session that counts its calls (``ports.CountsCalls``) corrects the count by what each
page really spent (none, or several); otherwise each page is one call. A page that makes
several (a listing of many list pages) is told how far the count may go
(``ports.LimitsCalls``): it stops before the call that would pass the day's pace, nothing of
it stored, the cursor where it was; the next poll lists from there again.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar, cast

from keybuzz_shared.connectors.seam import AllowanceSpent
from keybuzz_shared.protocol_checks import conforms

from keybuzz_poller.shops.allowance import DayPlan, seconds_into_day
from keybuzz_poller.shops.domain import CallsAsked, Shop, ShopStart
from keybuzz_poller.shops.ports import CountsCalls, LimitsCalls, ShopPorts

log = logging.getLogger(__name__)
Item = TypeVar("Item")
LEARNED_DAYS = 28  # the buyer messages a shop's plan learns its hours from


@dataclass
class Reserved:
    """The calls of ``day`` a poll reserved at its start, ``left`` of them not spent yet;
    ``counted``: the day's count as the poll knows it (the shop's lease keeps other polls
    off it), its reservation included."""

    day: date
    left: int
    counted: int

    @property
    def after(self) -> int:
        """The day's count once what is left is given back."""
        return self.counted - self.left


async def calls_asked(ports: ShopPorts, shop: Shop) -> CallsAsked | None:
    """What the poll about to start reserves of its shop's day: the calls its polls spend
    lately (``calls_per_poll``'s mean) and one for a listing's end (counted before it is
    asked, given back when no call was made), within the plan's pace now; None without an
    allowance."""
    day, at = seconds_into_day(ports.clock())
    plan = await plan_of(ports, shop, day)
    if plan is None:
        return None
    most = ports.reading(shop.marketplace).max_calls
    return CallsAsked(
        day, min(most, math.ceil(_mean_cost(ports, shop))) + 1, plan.calls_allowed(at)
    )


def reserved(asked: CallsAsked | None, start: ShopStart) -> Reserved | None:
    """The poll's reservation, if its start's statement made it, or the claim that leased
    the shop (``ShopStart.reserved``)."""
    asked = start.reserved or asked
    if asked is None or start.day_calls is None:
        return None
    return Reserved(asked.day, asked.calls, start.day_calls)


async def within_allowance(
    ports: ShopPorts, shop: Shop, pages: AsyncIterator[Item], held: Reserved | None = None
) -> AsyncIterator[Item]:
    """``pages``, each asked only once its call is counted within the day's allowance: one
    of the poll's reservation (``held``) while some is left that day, else one reserved."""
    allowance = ports.reading(shop.marketplace).allowance
    if allowance is None:
        async for page in pages:
            yield page
        return
    if ports.calls is None:
        raise RuntimeError(f"{shop.marketplace} has a daily allowance and no call counts")
    try:
        while True:
            day, at = seconds_into_day(ports.clock())
            plan = await plan_of(ports, shop, day)
            assert plan is not None
            allowed = plan.calls_allowed(at)
            mine = held if held is not None and held.day == day else None
            if not await _one_call(ports, shop, day, allowed, mine):
                _left_for_later(shop)
                await _close(pages)
                return
            before = _counted(ports, shop)
            await _limit(ports, shop, day, allowed, before, mine)
            try:
                page = await anext(pages)
            except StopAsyncIteration:  # the last page was read: this call was not made
                await _correct(ports, shop, day, before, 0, mine)
                return
            except AllowanceSpent:  # its calls up to the pace made, none past it
                await _correct(ports, shop, day, before, 1, mine)
                _left_for_later(shop)
                await _close(pages)
                return
            except Exception:  # a failed call counts at the marketplace all the same
                await _correct(ports, shop, day, before, 1, mine)
                raise
            await _correct(ports, shop, day, before, 1, mine)
            yield page
    finally:
        if conforms(ports.source, LimitsCalls):
            cast(LimitsCalls, ports.source).limit_allowance_calls(shop, None)


def _left_for_later(shop: Shop) -> None:
    log.info(
        "listing left for a later poll: the day's calls spent so far",
        extra={"tenant_id": shop.tenant_id, "marketplace": shop.marketplace},
    )


async def _one_call(
    ports: ShopPorts, shop: Shop, day: date, allowed: int, mine: Reserved | None
) -> bool:
    """Whether the page's call is counted: taken from the poll's reservation, or reserved
    now within the day's pace."""
    if mine is not None and mine.left > 0:
        mine.left -= 1
        return True
    assert ports.calls is not None
    if not await ports.calls.reserve_call(shop, day, allowed):
        return False
    if mine is not None:
        mine.counted += 1
    return True


async def _limit(
    ports: ShopPorts,
    shop: Shop,
    day: date,
    allowed: int,
    before: int | None,
    mine: Reserved | None,
) -> None:
    """Tells a session whose page may make several calls how far its count may go: the
    page's counted call, what is left of the poll's reservation, and those the day's pace
    leaves beyond them."""
    if before is None or not conforms(ports.source, LimitsCalls):
        return
    limits = cast(LimitsCalls, ports.source)
    assert ports.calls is not None
    if mine is None:
        spent = await ports.calls.calls_spent(shop, day)  # the page's reserved call included
        limits.limit_allowance_calls(shop, before + 1 + max(0, allowed - spent))
        return
    beyond = max(0, allowed - mine.counted)
    limits.limit_allowance_calls(shop, before + 1 + mine.left + beyond)


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
    mean = _mean_cost(ports, shop)
    if kept is not None and kept[0] == day and spent - kept[1] >= 1:
        mean = (1 - COST_WEIGHT) * mean + COST_WEIGHT * (spent - kept[1])
    ports.poll_costs[shop.key] = (day, spent, mean)
    return mean


def _mean_cost(ports: ShopPorts, shop: Shop) -> float:
    """The calls the shop's polls spend lately, as ``calls_per_poll`` last kept it (one
    before any poll)."""
    kept = ports.poll_costs.get(shop.key)
    return kept[2] if kept is not None else 1.0


def _counted(ports: ShopPorts, shop: Shop) -> int | None:
    if not conforms(ports.source, CountsCalls):
        return None
    return cast(CountsCalls, ports.source).allowance_calls(shop)


async def _correct(
    ports: ShopPorts,
    shop: Shop,
    day: date,
    before: int | None,
    made_by_default: int,
    mine: Reserved | None,
) -> None:
    """The day's count set right once the call is made: the session's own count when it
    keeps one, else ``made_by_default`` (one was counted in advance). Against the poll's
    reservation first: a call not made goes back to it, calls made beyond one come out of
    it, and only those past it are counted now."""
    assert ports.calls is not None
    after = _counted(ports, shop)
    made = max(0, after - before) if after is not None and before is not None else made_by_default
    extra = made - 1
    if mine is not None:
        if extra < 0:
            mine.left -= extra
            return
        taken = min(extra, mine.left)
        mine.left -= taken
        extra -= taken
        mine.counted += extra
    if extra != 0:
        await ports.calls.adjust_calls(shop, day, extra)


async def _close(pages: AsyncIterator[object]) -> None:
    close = getattr(pages, "aclose", None)
    if close is not None:
        await close()
