"""Paging and listing: a listing's strategy (page numbers, offsets, seek tokens, next links), the
window it asks, its kept cursors, and where every listing stops (``RepeatedPages`` and
``SAME_NEXT`` the poller's too: its inbox listings stop by the same rules)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

import msgspec

from keybuzz_shared.connectors.seam import (
    CallRefused,
    ConnectorError,
    Page,
    cursor_of,
    read_each,
    state_of,
)
from keybuzz_shared.spent_calls import listing_stopped

log = logging.getLogger(__name__)

# --- where every listing stops -------------------------------------------------------------
# Whatever its paging, a listing that would page on until the call's deadline, each page a
# call of the shop's budget, stops with what it read, said (``spent_calls.listing_stopped``).

MAX_PAGES = 200  # a listing read whole (``every``) reads at most
EMPTY_WITH_MORE = "a page listed nothing and said another follows"
SAME_NEXT = "a page named the same next page again"
SAME_ITEMS = "a page listed the same items as the page before"


def follows(
    call: str, raw: Sequence[Any], more: bool, shop: Mapping[str, str] | None = None
) -> bool:
    """``more``, unless the page listed nothing (then the listing is stopped, said)."""
    if more and not raw:
        listing_stopped(call, EMPTY_WITH_MORE, shop)
        return False
    return more


class RepeatedPages:
    """Pages listing the items of the page before, in a row: ``read_on`` of them are read
    on (a ``Seek`` page all at one instant comes back once before it pages by number), the
    next one ends the listing (said)."""

    def __init__(
        self, call: str, shop: Mapping[str, str] | None = None, *, read_on: int = 1
    ) -> None:
        self._call, self._shop, self._read_on = call, shop, read_on
        self._before: tuple[Any, ...] = ()
        self._in_a_row = 0

    def end(self, items: Sequence[Any]) -> bool:
        listed = tuple(items)
        self._in_a_row = self._in_a_row + 1 if listed and listed == self._before else 0
        self._before = listed
        if self._in_a_row > self._read_on:
            listing_stopped(self._call, SAME_ITEMS, self._shop)
            return True
        return False


def same_next(call: str, asked: object, following: object) -> bool:
    """Whether the next page named is the one just read (then the listing is stopped, said)."""
    if following is not None and following == asked:
        listing_stopped(call, SAME_NEXT)
        return True
    return False


# --- listing -------------------------------------------------------------------------------
# A strategy's state is its cursor, through the seam's codec (a cursor it did not make is a
# ValueError); the strategies: docs/ARCHITECTURE.md, "The connector kit".

T = TypeVar("T")  # what a page lists, read
S = TypeVar("S", bound="Windowed")  # a strategy's state: its cursor
M = TypeVar("M")  # what an answer says of the next page

# A page's call (its query, or the marketplace's link to it): its raw items and what it says
# of the next page; a page read: its items, and why others could not be; a window's query.
Fetch = Callable[[dict[str, str], str | None], Awaitable[tuple[Sequence[Any], M]]]
Read = Callable[[Sequence[Any]], tuple[tuple[T, ...], tuple[str, ...]]]
Query = Callable[[datetime, datetime | None], dict[str, str]]


def logged_each(
    read_one: Callable[[Any], T], log: logging.Logger, what: str, shop: Mapping[str, str]
) -> Read[T]:
    """A ``Read`` of ``read_one`` (ValueError: an item left out, logged as ``what``)."""

    def read(raw: Sequence[Any]) -> tuple[tuple[T, ...], tuple[str, ...]]:
        items, unreadable = read_each(raw, read_one)
        for reason in unreadable:
            log.warning("%s left out: unreadable", what, extra={**shop, "reason": reason})
        return items, unreadable

    return read


class Windowed(Protocol):
    """What every state has: the window its listing reads (``high`` None: none ends it)."""

    @property
    def low(self) -> datetime: ...

    @property
    def high(self) -> datetime | None: ...


@dataclass(frozen=True)
class PageRead(Generic[T, S]):
    """A page read (items read before dropped); ``following``: None for the last."""

    items: tuple[T, ...]
    unreadable: tuple[str, ...]
    following: S | None

    def page(self, complete_until: datetime | None = None) -> Page[T]:
        """The seam's page: the last complete until ``complete_until``."""
        last = self.following is None
        return Page(
            items=self.items,
            next_cursor=None if last else cursor_of(self.following),
            complete_until=complete_until if last else None,
            unreadable=self.unreadable,
        )


class Paging(ABC, Generic[T, S, M]):
    """A paging strategy: its state type, its first state, and one page."""

    state: type[S]
    repeats_read_on = 1  # ``RepeatedPages``' ``read_on``
    newest_first = False  # a page wholly past a window's end says nothing of the next
    # a page of a window that read no item ends an inbox's listing: nothing to seek from
    empty_page_ends = True

    @abstractmethod
    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> S:
        """``updated``: the listing is by update (else by creation)."""

    def valid(self, state: S, *, updated: bool) -> bool:
        return True

    @abstractmethod
    async def step(self, state: S, ask: PageRequest[M], read: Read[T]) -> PageRead[T, S]: ...


class PageRequest(Generic[M]):
    """A page's call: its window as the query, the strategy's paging parameters beside."""

    def __init__(self, query: Query, fetch: Fetch[M]) -> None:
        self._query = query
        self._fetch = fetch

    async def __call__(
        self, window: Windowed, paging: dict[str, str] | None = None, link: str | None = None
    ) -> tuple[Sequence[Any], M]:
        return await self._fetch({**self._query(window.low, window.high), **(paging or {})}, link)

    async def alone(self, paging: dict[str, str]) -> tuple[Sequence[Any], M]:
        """By the strategy's parameters only (a token holding the query)."""
        return await self._fetch(dict(paging), None)


@dataclass(frozen=True)
class _Listing(Generic[T, S, M]):
    """A ``Listing``'s fields (aliases cannot be dataclass fields: ``Listing`` adds them)."""

    paging: Paging[T, S, M]
    query: Query
    fetch: Fetch[M]
    legacy: Callable[[str], S | None] | None = None
    name: str = ""

    def start(self, low: datetime, high: datetime | None, *, updated: bool) -> S:
        return self.paging.first(low, high, updated=updated)

    def resume(self, cursor: str, *, updated: bool) -> S:
        try:
            return state_of(
                cursor, self.paging.state, lambda s: self.paging.valid(s, updated=updated)
            )
        except ValueError:
            old = self.legacy(cursor) if self.legacy is not None else None
            if old is None or not self.paging.valid(old, updated=updated):
                raise
            return old

    async def step(self, state: S, read: Read[T]) -> PageRead[T, S]:
        return await self.paging.step(state, PageRequest(self.query, self.fetch), read)

    async def page(
        self,
        cursor: str | None,
        low: datetime,
        high: datetime | None,
        read: Read[T],
    ) -> Page[T]:
        """A listing by update's page; the last complete until its window's end."""
        state = (
            self.start(low, high, updated=True)
            if cursor is None
            else self.resume(cursor, updated=True)
        )
        return (await self.step(state, read)).page(state.high)

    async def every(self, state: S, read: Read[T], *, most: int | None = None) -> PageRead[T, S]:
        """Every page from ``state`` on; ``most``: only the first pages wanted, the rest
        unsaid (else ``MAX_PAGES``, said)."""
        items: list[T] = []
        unreadable: list[str] = []
        following: S | None = state
        pages = 0
        repeated = RepeatedPages(self._name, read_on=self.paging.repeats_read_on)
        while following is not None and pages != most:
            if pages >= MAX_PAGES:
                listing_stopped(
                    self._name, f"{MAX_PAGES} pages read: the listing is read no further"
                )
                break
            page = await self.step(following, read)
            if repeated.end(page.items):
                break
            items += page.items
            unreadable += page.unreadable
            following = None if same_next(self._name, following, page.following) else page.following
            pages += 1
        return PageRead(tuple(items), tuple(unreadable), None)

    @property
    def _name(self) -> str:
        return self.name or _named(self.paging)


def _named(paging: object) -> str:
    return f"{type(paging).__name__} listing"


class WindowCursor(msgspec.Struct, array_like=True, frozen=True):
    """``low``: where the next page seeks from; ``link``: the next page when followed
    instead; ``page``: the page of the items sharing ``low``, where numbered."""

    low: datetime
    high: datetime | None
    link: str | None = None
    page: int = 1


class Seek(Paging[T, WindowCursor, str | None]):
    """The next page from the last instant read (``key``), else the next link or
    ``page_param``: docs/ARCHITECTURE.md, "Listings are declared"."""

    state = WindowCursor

    def __init__(
        self, key: Callable[[T], datetime] | None = None, *, page_param: str | None = None
    ) -> None:
        self.key = key
        self.page_param = page_param
        # A page repeats the one before legitimately only where the listing seeks by instant.
        self.repeats_read_on = 1 if key is not None else 0

    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> WindowCursor:
        return WindowCursor(low, high)

    def valid(self, state: WindowCursor, *, updated: bool) -> bool:
        return state.page >= 1 and (self.page_param is not None or state.page == 1)

    async def step(
        self, state: WindowCursor, ask: PageRequest[str | None], read: Read[T]
    ) -> PageRead[T, WindowCursor]:
        paging = {self.page_param: str(state.page)} if self.page_param else None
        raw, link = await ask(state, paging, state.link)
        items, unreadable = read(raw)
        if not follows(_named(self), raw, link is not None):
            return PageRead(items, unreadable, None)
        key = self.key
        latest = max((key(item) for item in items), default=state.low) if key else state.low
        if latest > state.low:
            following = WindowCursor(latest, state.high)
        elif self.page_param is not None:
            following = WindowCursor(state.low, state.high, page=state.page + 1)
        else:
            following = WindowCursor(state.low, state.high, link)
        return PageRead(
            items, unreadable, None if same_next(_named(self), state, following) else following
        )


class Dated(msgspec.Struct, array_like=True, frozen=True):
    updated: bool
    low: datetime
    high: datetime | None


D = TypeVar("D", bound=Dated)


class OfOneListing(Paging[T, D, M]):
    """Cursors refused to the other listing (by update, by creation) and out of range."""

    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> D:
        return self.state(updated, low, high)

    def valid(self, state: D, *, updated: bool) -> bool:
        return state.updated == updated and self.in_range(state)

    @abstractmethod
    def in_range(self, state: D) -> bool: ...


Position = tuple[datetime, str]  # an item's place in an offset listing's sort


class OffsetState(Dated, array_like=True, frozen=True):
    offset: int = 0
    last: Position | None = None


class Offsets(OfOneListing[T, OffsetState, int]):
    """Each next page ``overlap`` places early, items read already dropped, a page past
    the last item read stepping back to it: items leaving the window skip none. Newest
    first, an item changed meanwhile moves to the head: the next listing's."""

    state = OffsetState

    def __init__(
        self,
        key: Callable[[T], Position],
        *,
        size: int,
        overlap: int,
        size_param: str = "max",
        newest_first: bool = False,
    ) -> None:
        if size <= overlap:
            raise ValueError("a page must be larger than the overlap")
        self.key = key
        self.newest_first = newest_first
        self.size = size
        self.overlap = overlap
        self.size_param = size_param

    def in_range(self, state: OffsetState) -> bool:
        return state.offset >= 0

    async def step(
        self, state: OffsetState, ask: PageRequest[int], read: Read[T]
    ) -> PageRead[T, OffsetState]:
        last, offset = state.last, state.offset
        while True:
            raw, total = await ask(state, {self.size_param: str(self.size), "offset": str(offset)})
            items, unreadable = read(raw)
            if last is not None and offset > 0 and items and self._past(self.key(items[0]), last):
                # Items before the last one read left the window: step back to it.
                offset = max(0, offset - self.size + self.overlap)
                continue
            break
        fresh = tuple(item for item in items if last is None or self._past(self.key(item), last))
        read_to = offset + len(raw)
        if not raw or read_to >= total:
            return PageRead(fresh, unreadable, None)
        furthest = min if self.newest_first else max
        newest = furthest((self.key(item) for item in items), default=last)
        if last is not None and not fresh and newest == last:
            listing_stopped(_named(self), SAME_ITEMS)  # the page read before, again
            return PageRead(fresh, unreadable, None)
        following = OffsetState(
            state.updated, state.low, state.high, max(offset + 1, read_to - self.overlap), newest
        )
        return PageRead(fresh, unreadable, following)

    def _past(self, place: Position, last: Position) -> bool:
        """Whether ``place`` comes after ``last`` in the listing's sort."""
        return place < last if self.newest_first else place > last


class Numbered(Dated, array_like=True, frozen=True):
    page: int = 1


class PageNumbers(OfOneListing[T, Numbered, bool]):
    """Page 1, 2 … while the answer says a next page follows."""

    state: TypeAlias = Numbered

    def __init__(self, *, size: int | None = None, size_param: str = "page-size") -> None:
        self.size = size
        self.size_param = size_param

    def in_range(self, state: Numbered) -> bool:
        return state.page >= 1

    async def step(
        self, state: Numbered, ask: PageRequest[bool], read: Read[T]
    ) -> PageRead[T, Numbered]:
        paging = {"page": str(state.page)}
        if self.size is not None:
            paging[self.size_param] = str(self.size)
        raw, more = await ask(state, paging)
        items, unreadable = read(raw)
        following = (
            msgspec.structs.replace(state, page=state.page + 1)
            if follows(_named(self), raw, more)
            else None
        )
        return PageRead(items, unreadable, following)


class Token(msgspec.Struct, array_like=True, frozen=True):
    """``newest``: the newest item read (where a window without an end is complete to)."""

    low: datetime
    high: datetime | None
    token: str | None = None
    newest: datetime | None = None


class SeekToken(Paging[T, Token, str | None]):
    """Each next page by the last answer's token alone (it holds the query)."""

    state = Token

    def __init__(self, key: Callable[[T], datetime], *, token_param: str = "page_token") -> None:
        self.key = key
        self.token_param = token_param

    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> Token:
        return Token(low, high)

    def valid(self, state: Token, *, updated: bool) -> bool:
        return bool(state.token)  # a cursor is always of a next page

    async def step(
        self, state: Token, ask: PageRequest[str | None], read: Read[T]
    ) -> PageRead[T, Token]:
        if state.token is None:
            raw, token = await ask(state)
        else:
            raw, token = await ask.alone({self.token_param: state.token})
        items, unreadable = read(raw)
        dates = [self.key(item) for item in items]
        newest = max([d for d in (state.newest, *dates) if d is not None], default=None)
        if not follows(_named(self), raw, bool(token)) or same_next(
            _named(self), state.token, token
        ):
            return PageRead(items, unreadable, None)
        return PageRead(items, unreadable, Token(state.low, state.high, token, newest))


class KindAt(msgspec.Struct, array_like=True, frozen=True):
    """The kind listed, its next page's offset, the window (no end in an earlier layout)."""

    kind: str
    offset: int
    low: datetime
    high: datetime | None = None


@dataclass(frozen=True)
class Kinds(Paging[T, KindAt, bool]):
    """Each kind (``kind_param``) listed whole, then the next; ``kinds``: whether a kind is
    asked the window (docs/ARCHITECTURE.md, "Listings are declared")."""

    kinds: Mapping[str, bool]
    latest: Callable[[T], datetime | None]
    _: KW_ONLY
    size: int
    kind_param: str
    state = KindAt
    empty_page_ends = False  # a kind with none goes on to the next

    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> KindAt:
        return KindAt(next(iter(self.kinds)), 0, low, high)

    def valid(self, state: KindAt, *, updated: bool) -> bool:
        return state.offset >= 0 and state.kind in self.kinds

    async def step(
        self, state: KindAt, ask: PageRequest[bool], read: Read[T]
    ) -> PageRead[T, KindAt]:
        paging = {self.kind_param: state.kind, "limit": str(self.size), "offset": str(state.offset)}
        raw, more = await (ask(state, paging) if self.kinds[state.kind] else ask.alone(paging))
        items, unreadable = read(raw)
        kept = tuple(i for i in items if (at := self.latest(i)) is None or at >= state.low)
        after = list(self.kinds)[list(self.kinds).index(state.kind) + 1 :]
        following = KindAt(after[0], 0, state.low, state.high) if after else None
        if follows(_named(self), raw, more):
            following = msgspec.structs.replace(state, offset=state.offset + self.size)
        return PageRead(kept, unreadable, following)


def window_query(
    start: str,
    end: str | None,
    written: Callable[[datetime], str],
    *,
    end_written: Callable[[datetime], str] | None = None,
    **fixed: str,
) -> Query:
    """``end`` None: the marketplace takes none; ``end_written``: where the end is written
    otherwise (rounded up to whole seconds); ``fixed``: carried by every page."""

    def query(low: datetime, high: datetime | None) -> dict[str, str]:
        ends = {start: written(low)}
        if end is not None and high is not None:
            ends[end] = (end_written or written)(high)
        return {**ends, **fixed}

    return query


class Lookup(Generic[T]):
    """What a listing's items are looked up in, read when first needed and kept until
    ``drop``; a refusal its ``fallback`` until then (asked again, it would be refused again),
    the rest: docs/ARCHITECTURE.md, ``Listing.Lookup``."""

    def __init__(
        self, fetch: Callable[[], Awaitable[T]], fallback: T, what: str, *, optional: bool = False
    ) -> None:
        self._fetch, self._fallback, self._what = fetch, fallback, what
        self._optional = optional
        self._found: tuple[T] | None = None

    def drop(self) -> None:
        self._found = None

    async def get(self) -> T:
        if self._found is not None:
            return self._found[0]
        try:
            found = await self._fetch()
        except (ConnectorError, ValueError) as exc:
            if not (self._optional or isinstance(exc, CallRefused)):
                raise
            log.warning("%s unread: its fallback meanwhile", self._what, extra={"reason": str(exc)})
            if self._optional:
                return self._fallback
            found = self._fallback
        self._found = (found,)
        return found


# --- the listing and its parts (reached through it: ``kit.Listing.Offsets``) ---------------


_Said = TypeVar("_Said")  # a ``Listing.Fetch``'s: what its answer says of the next page
_Item = TypeVar("_Item")  # a ``Listing.Read``'s: an item read


class Listing(_Listing[T, S, M]):
    """One listing of an endpoint, declared. ``legacy``: an earlier layout's cursor as
    its state (None for any other); ``name``: as a stopped listing is said."""

    Seek: TypeAlias = Seek
    Offsets: TypeAlias = Offsets
    PageNumbers: TypeAlias = PageNumbers
    SeekToken: TypeAlias = SeekToken
    Kinds: TypeAlias = Kinds
    Paging: TypeAlias = Paging
    PageRequest: TypeAlias = PageRequest
    PageRead: TypeAlias = PageRead
    follows = staticmethod(follows)
    Lookup: TypeAlias = Lookup
    Fetch: TypeAlias = Fetch[_Said]
    Read: TypeAlias = Read[_Item]
    window_query = staticmethod(window_query)
    logged_each = staticmethod(logged_each)
