"""Orders: a marketplace's order source declared (by update, by creation, by id), its order
ids' pattern, a line's unit price."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias, TypeVar

import msgspec

from keybuzz_shared.connectors.kit.json_answers import segment
from keybuzz_shared.connectors.kit.listing import Fetch, Listing, PageRead, Read
from keybuzz_shared.connectors.kit.requester import Requester
from keybuzz_shared.connectors.seam import (
    ORDER_STATUSES,
    CallRefused,
    OrderLine,
    OrderSummary,
    Page,
    cursor_of,
    read_each,
    state_of,
)
from keybuzz_shared.times import as_utc

# --- orders --------------------------------------------------------------------------------

OrderListing = Listing[OrderSummary, Any, Any]
M = TypeVar("M")  # what a listing's answer says of its next page
T = TypeVar("T")


def decimal_of(value: float | str | None) -> Decimal | None:
    """An amount as written (a JSON number or text), exactly; None for no number."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class EachById:
    """One call an order, ``<under>/<id>``; an id not ``valid`` or no path segment is not
    asked; a 404 names no order."""

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
        """A listing whose pages name orders (by ``key``), each then read whole; one gone
        meanwhile (404) is left out, never the page."""

        async def fetch_each(query: dict[str, str], link: str | None) -> tuple[list[Any], M]:
            listed, end = await fetch(query, link)
            # An order a page names twice (by two of its units) is read once.
            named = list(dict.fromkeys(str(i.get(key, "")) for i in listed if isinstance(i, dict)))
            items = [await self._one(order_id) for order_id in named]
            return [item for item in items if item is not None], end

        return fetch_each

    async def _one(self, order_id: str) -> Any:
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
class InLists:
    """``size`` ids a call, joined by commas; an id holding one, blank or not ``askable``
    is not asked, and an order not asked is dropped."""

    get: Callable[[str], Awaitable[Sequence[Any]]]
    size: int
    askable: Callable[[str], bool] = bool

    async def orders(
        self, order_ids: Sequence[str], read: Read[OrderSummary]
    ) -> list[OrderSummary]:
        wanted = [
            o for o in dict.fromkeys(order_ids) if o.strip() and "," not in o and self.askable(o)
        ]
        found: list[OrderSummary] = []
        for at in range(0, len(wanted), self.size):
            chunk = wanted[at : at + self.size]
            orders, _ = read(await self.get(",".join(chunk)))
            found += [o for o in orders if o.external_id in chunk]
        return found


@dataclass
class Spaced:
    """Calls one at a time, ``interval`` seconds after the last one ended (not started: one
    sent again after a Retry-After reached the marketplace then)."""

    interval: float
    _: KW_ONLY
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    _one: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _ended: float | None = field(default=None, init=False)  # when the last call ended

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._one:
            if self._ended is not None:
                left = self.interval - (self.monotonic() - self._ended)
                if left > 0:
                    await self.sleep(left)
            try:
                return await call()
            finally:
                self._ended = self.monotonic()


@dataclass(kw_only=True)
class _ListedOrders:
    """Its windows, its orders unread, ``calls`` and ``spacing``: docs/ARCHITECTURE.md, "An
    order source is declared"."""

    updated: OrderListing
    created: OrderListing
    by_id: EachById | InLists | None = None
    read: Callable[[Any], OrderSummary]
    calls: Requester
    overlap: timedelta = timedelta(0)
    bounds: Callable[[datetime], datetime] = as_utc
    now: Callable[[], datetime] | None = functools.partial(datetime.now, UTC)
    spacing: float = 0.0

    def __post_init__(self) -> None:
        self._first_pages = Spaced(self.spacing)

    @staticmethod
    def least_advanced(lines: Sequence[OrderLine]) -> OrderLine | None:
        """The line an order's state is: its least advanced one not cancelled (else of all)."""
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
        past = past and not listing.paging.newest_first
        following = None if past else step.following
        return PageRead(tuple(kept), step.unreadable, following).page(end)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        if self.by_id is not None:
            return await self.by_id.orders(order_ids, self._read)
        # No way by id: the orders listed by update now, read whole, those named kept.
        now, listing = datetime.now(UTC), self.updated
        every = await listing.every(listing.start(now, None, updated=True), self._read)
        return [o for o in every.items if o.external_id in order_ids]

    async def _spaced(self, cursor: str | None, page: Callable[[], Awaitable[T]]) -> T:
        return await (self._first_pages(page) if cursor is None and self.spacing else page())

    def _read(self, raw: Sequence[Any]) -> tuple[tuple[OrderSummary, ...], tuple[str, ...]]:
        items, unreadable = read_each(raw, self.read)
        for reason in unreadable:  # ``calls`` read only here: listing asks nothing of it
            spec, shop = self.calls.spec, {**self.calls.shop, "reason": reason}
            spec.log.warning("%s order left out: unreadable", spec.label, extra=shop)
        return items, unreadable


class ChannelCursor(msgspec.Struct, array_like=True, frozen=True):
    """``until``: the earliest end of the channels listed so far; ``channels``: asked at
    the first page (None in a cursor of the layout before them)."""

    at: int
    inner: str | None = None
    until: datetime | None = None
    channels: list[str | None] | None = None


@dataclass
class EachChannel:
    """Channels listed in turn, complete until the earliest of their ends, so an order
    changed in a channel listed first is not passed over; the channels asked at each
    listing's first page and carried in its cursor, so no listing depends on another's."""

    channels: Callable[[], Awaitable[Sequence[str]]]
    listed: Callable[[str | None], ListedOrders]

    def __post_init__(self) -> None:
        self._of = functools.cache(self.listed)  # a channel's listing made once

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
        at, inner, until, channels = await self._state(cursor)
        page = await page_of(self._of(channels[at]), inner)
        ends = [t for t in (until, page.complete_until) if t is not None]
        if page.next_cursor is not None:
            following = ChannelCursor(at, page.next_cursor, until, channels)
        elif at + 1 < len(channels):
            following = ChannelCursor(at + 1, None, min(ends, default=None), channels)
        else:
            return msgspec.structs.replace(page, complete_until=min(ends, default=None))
        return Page(items=page.items, next_cursor=cursor_of(following), unreadable=page.unreadable)

    async def _state(
        self, cursor: str | None
    ) -> tuple[int, str | None, datetime | None, list[str | None]]:
        """An earlier layout's (no channels; a single channel's) on the channels asked again."""
        try:
            state = ChannelCursor(0) if cursor is None else state_of(cursor, ChannelCursor)
        except ValueError:
            state = ChannelCursor(0, cursor)
        channels = state.channels or list(await self.channels()) or [None]
        if not 0 <= state.at < len(channels):
            raise ValueError("not a cursor this connector handed out")
        return state.at, state.inner, state.until, channels


class OrderStates(dict[str, tuple[str, str | None]]):
    """State → (order status, delivery status); one added later is PENDING: never lost."""

    def __missing__(self, _state: str) -> tuple[str, str | None]:
        return ("PENDING", None)


class ListedOrders(_ListedOrders):
    """The seam's ``OrderSource`` declared, its parts reached through it."""

    OrderListing: TypeAlias = OrderListing
    EachById: TypeAlias = EachById
    InLists: TypeAlias = InLists
    States: TypeAlias = OrderStates

    def each_of(self, channels: Callable[[], Awaitable[Sequence[str]]], param: str) -> EachChannel:
        """Where the marketplace lists one channel a call (a storefront, a site): both
        listings asked with ``param`` at each channel in turn (none known: without it)."""

        def at(channel: str | None) -> ListedOrders:
            def on(listing: OrderListing) -> OrderListing:
                named = {param: channel} if channel else {}
                return replace(listing, query=lambda low, high: listing.query(low, high) | named)

            return replace(self, updated=on(self.updated), created=on(self.created))

        return EachChannel(channels, at)


# --- order ids: the seam's ``OrderIds`` from their pattern ------------------------------


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


def unit_price(total: float | str | None, quantity: int) -> Decimal | None:
    """One item's price of a line priced in all, exactly; None without a number or items."""
    amount = decimal_of(total)
    return amount / quantity if amount is not None and quantity >= 1 else None
