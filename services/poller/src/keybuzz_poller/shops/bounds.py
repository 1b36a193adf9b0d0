"""A poll's calls counted as spent and bounded (docs/ARCHITECTURE.md, "Calls counted as
spent"). Every call the poll makes is counted where every request passes
(``keybuzz_shared.spent_calls``), whichever connector makes it: a listing asks no page once
the poll's calls reach its bound (``ShopApiSettings.max_calls_per_poll``), and a page that
would run past ``HARD_BOUND`` times it is cut before its call leaves. A listing ended by the
bound keeps what it stored, and its cursor goes back to where the listing started: the pages
it did not read may hold items older than those it did (a listing newest first), and the
next poll reads them; what was stored is known by its marketplace id, never stored twice.

A marketplace with an application call budget has each poll's calls counted in the shop's
UTC day (``CallCounts``, in the database: a restart or another instance reads them), which
the schedule follows (``polling/shops.py``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, TypeVar

import msgspec
from keybuzz_shared.spent_calls import CallsBound, SpentCalls

from keybuzz_poller.shops.allowance import seconds_into_day
from keybuzz_poller.shops.calls import Reserved
from keybuzz_poller.shops.domain import DayCalls, Shop, ShopCursor
from keybuzz_poller.shops.ports import ShopPorts, ShopReading

log = logging.getLogger(__name__)
Item = TypeVar("Item")
# A page asked under the bound may make calls past it (a listing page reads its threads):
# cut at this many times the bound, that page not stored and read again by the next poll.
HARD_BOUND = 2


@dataclass
class Bound:
    """One poll's bound: ``spent``, its count; ``most``, the calls past which no page is
    asked; ``cut``, whether the last listing was ended by it."""

    spent: SpentCalls
    most: int
    cut: bool = False

    async def pages(self, pages: AsyncIterator[Item]) -> AsyncIterator[Item]:
        """``pages`` while the poll's calls are within its bound."""
        self.cut = False
        try:
            while not self._reached():
                try:
                    page = await anext(pages)
                except StopAsyncIteration:
                    return
                except CallsBound as exc:  # the page's calls ran past the hard bound
                    self._ended(str(exc))
                    return
                yield page
        finally:
            close = getattr(pages, "aclose", None)
            if close is not None:
                await close()

    async def cursor_kept(
        self,
        ports: ShopPorts,
        shop: Shop,
        started: ShopCursor,
        cursor: ShopCursor,
        listing: Literal["incidents_since", "messages_since"],
    ) -> ShopCursor:
        """The cursor after a listing: back where the listing started when the bound ended
        it, saved so; else as it is."""
        if not self.cut:
            return cursor
        kept = msgspec.structs.replace(cursor, **{listing: getattr(started, listing)})
        await ports.store.save_cursor(shop, kept)
        return kept

    def _reached(self) -> bool:
        if self.spent.made < self.most:
            return False
        self._ended(f"the poll's {self.most} calls are spent")
        return True

    def _ended(self, why: str) -> None:
        self.cut = True
        self.spent.stopped.append(f"{why}: the rest is read by the next poll")


async def spent_in_day(
    ports: ShopPorts,
    shop: Shop,
    reading: ShopReading,
    made: int,
    held: Reserved | None = None,
    settles: bool = True,
) -> None:
    """The poll's calls, kept for its next interval, and its day's count set right: counted
    where its marketplace has an application call budget, what its reservation did not
    spend given back. Left to the poll's end statement (``ShopPorts.unsettled``) unless it
    ``settles`` itself."""
    ports.last_poll_calls[shop.key] = made
    day, _ = seconds_into_day(ports.clock())
    corrections: list[DayCalls] = []
    if reading.app_calls is not None and ports.calls is not None and made > 0:
        corrections.append(DayCalls(day, made))
    if held is not None and held.left:
        corrections.append(DayCalls(held.day, -held.left))
    if held is not None and held.day == day:
        ports.day_calls[shop.key] = (day, held.after)
    else:
        ports.day_calls.pop(shop.key, None)
    if not settles:
        ports.unsettled[shop.key] = corrections
        return
    await settle(ports, shop, corrections)


async def settle(ports: ShopPorts, shop: Shop, corrections: list[DayCalls]) -> None:
    """``corrections`` in a statement each (a poll's end that cannot fold them in)."""
    for correction in corrections:
        assert ports.calls is not None
        try:
            await ports.calls.adjust_calls(shop, correction.day, correction.delta)
        except Exception:  # the poll's work is stored: a count lost costs one poll's calls
            log.warning(
                "a poll's calls could not be counted",
                extra={
                    "tenant_id": shop.tenant_id,
                    "marketplace": shop.marketplace,
                    "calls": correction.delta,
                },
                exc_info=True,
            )
