"""Fnac's listings: numbered pages over a listing whose total the answer gives
(models.py's ``Listed``: a page's item nodes, raw, and its paging: its page, how many
follow, how many items the listing holds), read by ``Renumbered``, a paging strategy of
the kit's ``Listing``. The connector asks a page in its own typed query, from the page's
number and the window ``iso_window`` wrote (``window_of``)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import msgspec
from keybuzz_shared.connectors.kit import Listing

T = TypeVar("T")  # an item, read

# What a numbered page says of the listing: whether more pages follow, and how many
# items it holds in all (None: not said).
Count = tuple[bool, int | None]


# A window as a listing's query: ``min`` and, where it ends, ``max``, ISO 8601 (the kit's
# ``window_query``); ``window_of`` reads it back, for a call that builds its own request.
iso_window = Listing.window_query("min", "max", datetime.isoformat)


def window_of(params: dict[str, str]) -> tuple[datetime, datetime | None]:
    """The window ``iso_window`` wrote into a page's parameters."""
    high = params.get("max")
    return datetime.fromisoformat(params["min"]), (
        datetime.fromisoformat(high) if high is not None else None
    )


class Pages(msgspec.Struct, array_like=True, frozen=True):
    """A listing's state, its cursor: its window, the page to read next and how many items
    the window held at the last page read (-1: not known). The layout of the cursors a
    poll and a backfill job keep: unchanged."""

    low: datetime
    high: datetime | None
    page: int
    total: int = -1


class Renumbered(Listing.Paging[T, Pages, Count]):
    """Pages numbered 1, 2 … (``page``) of ``size`` items while the answer says a next
    page follows. With ``step_back``, when the total shrank since the last page (items
    read left the window, the rest moved up), the next page steps back by as many items
    instead, so that none is skipped (the ones read again are dropped by the caller)."""

    state = Pages

    def __init__(self, size: int, *, step_back: bool = True) -> None:
        self.size = size
        self.step_back = step_back

    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> Pages:
        return Pages(low, high, 1)

    def valid(self, state: Pages, *, updated: bool) -> bool:
        return state.page >= 1

    async def step(
        self, state: Pages, ask: Listing.PageRequest[Count], read: Listing.Read[T]
    ) -> Listing.PageRead[T, Pages]:
        raw, (more, total) = await ask(state, {"page": str(state.page)})
        items, unreadable = read(raw)
        count = -1 if total is None else total
        left = state.total - count if self.step_back and 0 <= count < state.total else 0
        if left:
            page = max(1, ((state.page - 1) * self.size - left) // self.size + 1)
            return Listing.PageRead(items, unreadable, Pages(state.low, state.high, page, count))
        more = Listing.follows("Renumbered listing", raw, more)
        following = Pages(state.low, state.high, state.page + 1, count) if more else None
        return Listing.PageRead(items, unreadable, following)
