"""Orders: a marketplace's order listing declared (by update, by id), what its order ids look like, a line's unit price."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias, TypeVar

import msgspec

from keybuzz_shared.connectors.kit.json_answers import segment
from keybuzz_shared.connectors.kit.listing import Fetch, Listing, PageRead, Read, logged_each
from keybuzz_shared.connectors.seam import (
    ORDER_STATUSES,
    CallRefused,
    OrderLine,
    OrderSummary,
    Page,
    cursor_of,
    state_of,
)
from keybuzz_shared.times import as_utc

# --- orders --------------------------------------------------------------------------------
# A shop's orders as the seam's ``OrderSource``, declared rather than written: the
# listing by update and the listing by creation (each a ``Listing``: its strategy, its
# query, its call), how orders are fetched by id, and the mapping of one listed order.
#
# What every marketplace's order source does alike is here once: a listing by update reads
# the window [since - ``overlap``, now], fixed at its first page (``now`` None: a window
# the marketplace does not end, and no ``complete_until``); a listing by creation reads
# [start, end), oldest first, the orders created at or after ``end`` left out and the
# reading ended at a page created wholly past it (every such listing is in creation order);
# each order is read by the connector's mapping, one it cannot read logged and said
# (``Page.unreadable``), never guessed; the last page's ``complete_until`` is where the
# window ends.

# A marketplace that allows its order listing once per so many seconds declares them
# (``spacing``): a listing's first page leaves that long after the last first page ended
# (not started: one sent again after a 429's Retry-After reached the marketplace then),
# one at a time; its following pages and the orders asked by id are not spaced.

# A listing of orders, whatever its strategy.
OrderListing = Listing[OrderSummary, Any, Any]
M = TypeVar("M")  # what a listing's answer says of its next page
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def decimal_of(value: float | str | None) -> Decimal | None:
    """An amount as the marketplace wrote it (a JSON number or text), exactly; None when
    it gives none, or something that is not a number."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class ById(ABC):
    """How the marketplace gives the orders named."""

    @abstractmethod
    async def orders(
        self, order_ids: Sequence[str], read: Read[OrderSummary]
    ) -> list[OrderSummary]:
        """The orders of ``order_ids`` (each asked once) the marketplace knows."""


@dataclass(frozen=True)
class EachById(ById):
    """One call an order (``get`` of ``<under>/<id>``, the id one path segment); an id not
    ``valid`` or that cannot be one segment is not asked; a 404 names no order."""

    get: Callable[[str], Awaitable[Any]]
    under: str
    valid: Callable[[str], bool] = bool

    async def orders(
        self, order_ids: Sequence[str], read: Read[OrderSummary]
    ) -> list[OrderSummary]:
        found: list[OrderSummary] = []
        for order_id in dict.fromkeys(order_ids):
            item = await self._one(order_id)
            if item is not None:
                found += read([item])[0]
        return found

    def each_listed(self, fetch: Fetch[M], key: str) -> Fetch[M]:
        """A listing's fetch whose pages name orders (each item's ``key``) read one by one
        (``get`` of ``<under>/<id>``): a page of orders whole, its listing's end kept. An
        item naming none, or none that can be one path segment, is not asked; an order gone
        between the listing and its read (a 404) is left out, never the page."""

        async def fetch_each(query: dict[str, str], link: str | None) -> tuple[list[Any], M]:
            listed, end = await fetch(query, link)
            # An order a page names twice (by two of its units) is read once.
            named = list(dict.fromkeys(str(i.get(key, "")) for i in listed if isinstance(i, dict)))
            items = [await self._one(order_id) for order_id in named]
            return [item for item in items if item is not None], end

        return fetch_each

    async def _one(self, order_id: str) -> Any:
        """The order ``order_id`` names; None when it is not asked or the marketplace has
        none (404)."""
        named = segment(order_id) if self.valid(order_id) else None
        if named is None:
            return None
        try:
            return await self.get(f"{self.under}/{named}")
        except CallRefused as refused:
            if refused.status == 404:
                return None
            raise


@dataclass(frozen=True)
class InLists(ById):
    """``size`` ids a call, as one list (``get`` of the ids joined by ``separator``); an id
    holding the separator, blank, or not ``askable`` (outside the marketplace's format),
    is not asked, and an order not asked is dropped."""

    get: Callable[[str], Awaitable[Sequence[Any]]]
    size: int
    separator: str = ","
    askable: Callable[[str], bool] = bool

    async def orders(
        self, order_ids: Sequence[str], read: Read[OrderSummary]
    ) -> list[OrderSummary]:
        wanted = [
            o
            for o in dict.fromkeys(order_ids)
            if o.strip() and self.separator not in o and self.askable(o)
        ]
        found: list[OrderSummary] = []
        for at in range(0, len(wanted), self.size):
            chunk = wanted[at : at + self.size]
            orders, _ = read(await self.get(self.separator.join(chunk)))
            found += [o for o in orders if o.external_id in chunk]
        return found


class Spaced:
    """Calls sent ``interval`` seconds apart, counted from the end of the last one, one at
    a time: the callers queue behind the one in flight."""

    def __init__(
        self,
        interval: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._monotonic, self._sleep = monotonic, sleep
        self._one = asyncio.Lock()
        self._ended: float | None = None  # when the last call ended (monotonic)

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._one:
            if self._ended is not None:
                left = self.interval - (self._monotonic() - self._ended)
                if left > 0:
                    await self._sleep(left)
            try:
                return await call()
            finally:
                self._ended = self._monotonic()


@dataclass(kw_only=True)
class _ListedOrders:
    """The seam's ``OrderSource`` of a connector's declaration. ``read``: one listed order
    in the seam's terms (ValueError saying why not); ``label`` and ``shop``: what its log
    lines name the marketplace and the shop by; ``bounds``: a window's bounds as the
    marketplace keeps them (its dates' precision); ``newest_first``: its listing by
    creation lists the newest first (read to its end, those created from ``end`` left
    out), as a marketplace that sorts no other way; ``spacing``: seconds between two
    listings' first pages (``Spaced``), by update or by creation."""

    updated: OrderListing
    created: OrderListing
    by_id: ById
    read: Callable[[Any], OrderSummary]
    label: str
    log: logging.Logger
    shop: Mapping[str, str] = field(default_factory=dict)
    overlap: timedelta = timedelta(0)
    bounds: Callable[[datetime], datetime] = as_utc
    now: Callable[[], datetime] | None = _utc_now
    newest_first: bool = False
    spacing: float = 0.0

    def __post_init__(self) -> None:
        self._first_pages = Spaced(self.spacing)

    @staticmethod
    def least_advanced(lines: Sequence[OrderLine]) -> OrderLine | None:
        """The line an order's state is: its least advanced one (the seam's order of
        statuses) not cancelled, or of all when every one is; None without lines."""
        going = [line for line in lines if line.status != "CANCELLED"] or list(lines)
        rank = {status: n for n, status in enumerate(ORDER_STATUSES)}
        return min(going, key=lambda line: rank.get(line.status, 0), default=None)

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        high = self.bounds(self.now()) if self.now is not None else None
        low = self.bounds(since) - self.overlap
        return await self._spaced(cursor, lambda: self.updated.page(cursor, low, high, self._read))

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        end, listing = self.bounds(end), self.created
        if cursor is None:
            state = listing.start(self.bounds(start), end, updated=False)
        else:
            state = listing.resume(cursor, updated=False)
        step = await self._spaced(cursor, lambda: listing.step(state, self._read))
        kept = sorted((o for o in step.items if o.created_at < end), key=lambda o: o.created_at)
        past = bool(step.items) and min(o.created_at for o in step.items) >= end
        past = past and not self.newest_first
        following = None if past else step.following
        return PageRead(tuple(kept), step.unreadable, following).page(end)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return await self.by_id.orders(order_ids, self._read)

    async def _spaced(self, cursor: str | None, page: Callable[[], Awaitable[T]]) -> T:
        """A listing's page, spaced where it is a first one."""
        return await (self._first_pages(page) if cursor is None and self.spacing else page())

    @staticmethod
    def each_of(
        channels: Callable[[], Awaitable[Sequence[str]]],
        listed: Callable[[str | None], ListedOrders],
    ) -> EachChannel:
        """The orders of a shop whose marketplace lists one of its channels a call (a
        storefront, a site): each channel's listing (``listed``) read in turn; no channel
        known, one listing without any (``listed(None)``)."""
        return EachChannel(channels, listed)

    def _read(self, raw: Sequence[Any]) -> tuple[tuple[OrderSummary, ...], tuple[str, ...]]:
        return logged_each(self.read, self.log, f"{self.label} order", self.shop)(raw)


class ChannelCursor(msgspec.Struct, array_like=True, frozen=True):
    """Where a listing across channels is: the channel listed (its place), its listing's
    cursor, and the earliest instant every channel listed so far is complete until."""

    at: int
    inner: str | None = None
    until: datetime | None = None


@dataclass
class EachChannel:
    """The seam's ``OrderSource`` over a shop's channels, listed in turn
    (``ListedOrders.each_of``): a listing's last page is complete until the earliest of its
    channels' ends, so an order changed in a channel listed first is not passed over. The
    channels are asked at each listing's first page (one call), kept for its next pages."""

    channels: Callable[[], Awaitable[Sequence[str]]]
    listed: Callable[[str | None], ListedOrders]
    _known: list[str | None] = field(default_factory=list)
    _made: dict[str | None, ListedOrders] = field(default_factory=dict)

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        return await self._walk(cursor, lambda one, inner: one.orders(since=since, cursor=inner))

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        return await self._walk(
            cursor, lambda one, inner: one.orders_created(start=start, end=end, cursor=inner)
        )

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return await self._of(None).orders_by_id(order_ids)  # an order's id names its channel

    async def _walk(
        self,
        cursor: str | None,
        page_of: Callable[[ListedOrders, str | None], Awaitable[Page[OrderSummary]]],
    ) -> Page[OrderSummary]:
        if cursor is None or not self._known:
            self._known = list(await self.channels()) or [None]
        state = ChannelCursor(0) if cursor is None else self._state(cursor)
        page = await page_of(self._of(self._known[state.at]), state.inner)
        ends = [t for t in (state.until, page.complete_until) if t is not None]
        until = min(ends, default=None)
        if page.next_cursor is not None:
            following = ChannelCursor(state.at, page.next_cursor, state.until)
        elif state.at + 1 < len(self._known):
            following = ChannelCursor(state.at + 1, None, until)
        else:
            return Page(items=page.items, next_cursor=None, complete_until=until,
                        unreadable=page.unreadable)  # fmt: skip
        return Page(items=page.items, next_cursor=cursor_of(following), unreadable=page.unreadable)

    def _state(self, cursor: str) -> ChannelCursor:
        """The cursor's place; one of a listing of a single channel (an earlier layout) is
        its first channel's."""
        try:
            return state_of(cursor, ChannelCursor, lambda s: 0 <= s.at < len(self._known))
        except ValueError:
            return ChannelCursor(0, cursor)

    def _of(self, channel: str | None) -> ListedOrders:
        made = self._made.get(channel)
        if made is None:
            made = self._made[channel] = self.listed(channel)
        return made


class OrderStates(dict[str, tuple[str, str | None]]):
    """A marketplace's order states, each → (our order status, our delivery status or
    None); a state it may add later is PENDING with no delivery status: shown, never lost."""

    def __missing__(self, _state: str) -> tuple[str, str | None]:
        return ("PENDING", None)


class ListedOrders(_ListedOrders):
    """The seam's ``OrderSource`` of a connector's declaration: its listings by update and
    by creation (each a ``ListedOrders.OrderListing``) and how orders are fetched by id
    (``by_id``: ``ListedOrders.EachById``, ``.InLists``, or a ``ListedOrders.ById`` of the
    marketplace's own); the rest as ``_ListedOrders`` says."""

    OrderListing: TypeAlias = OrderListing
    ById: TypeAlias = ById
    EachById: TypeAlias = EachById
    InLists: TypeAlias = InLists
    States: TypeAlias = OrderStates


# --- order ids -----------------------------------------------------------------------------
# A marketplace's order ids from their pattern: the seam's ``OrderIds`` declared, not
# written (an id whole for a lookup, and the ids a buyer's free text holds).


class OrderIdPattern:
    """``pattern`` matches one id whole. In free text an id stands alone: none of
    ``joined`` (a character class's inside) right before or after it, nor of ``before``
    right before it; ``keep`` leaves out a match that is no id (a word of letters)."""

    def __init__(
        self,
        pattern: str,
        described: str,
        *,
        joined: str = "0-9A-Za-z",
        before: str = "",
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        self.described = described
        self._whole = re.compile(pattern)
        self._in_text = re.compile(f"(?<![{joined}{before}])(?:{pattern})(?![{joined}])")
        self._keep = keep

    def is_order_id(self, value: str) -> bool:
        return self._whole.fullmatch(value) is not None

    def order_ids_in(self, text: str) -> list[str]:
        found: list[str] = self._in_text.findall(text)
        return [w for w in found if self._keep(w)] if self._keep else found


# --- unit prices ---------------------------------------------------------------------------
# An order line's unit price where the marketplace gives the line's price for its whole
# quantity: that amount as the marketplace wrote it, exactly, divided by the quantity.


def unit_price(total: float | str | None, quantity: int) -> Decimal | None:
    """The price of one of the line's ``quantity`` items whose price in all is ``total``
    (a JSON number or text); None without a total that is a number, or for a quantity
    below one."""
    amount = decimal_of(total)
    return amount / quantity if amount is not None and quantity >= 1 else None
