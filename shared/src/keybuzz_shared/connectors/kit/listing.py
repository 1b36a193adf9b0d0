"""Paging and listing: a listing's strategy (page numbers, offsets, seek tokens, next links), the
window it asks, its kept cursors, and where every listing stops."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

import msgspec

from keybuzz_shared.connectors.kit.api_spec import CallErrors
from keybuzz_shared.connectors.seam import CallRefused, Page, cursor_of, read_each, state_of
from keybuzz_shared.spent_calls import listing_stopped

# --- where every listing stops -------------------------------------------------------------
# Whatever its paging (offsets, tokens, links, page numbers), a listing stops at a
# page that says another follows and lists nothing (an empty page with a ``next``), a page
# that names the same next page again or lists the same items again, and, read whole, past
# ``MAX_PAGES`` pages. Followed, each would page on until the call's deadline, every page a
# call of the shop's (or the application's) budget; stopped, the listing ends there with what
# it read, and the round reports it (``spent_calls.listing_stopped``).

# The pages a listing read whole at once (``every``) reads at most: past it, a listing that
# never ends (pages that each say another follows) is stopped.
MAX_PAGES = 200
EMPTY_WITH_MORE = "a page listed nothing and said another follows"
SAME_NEXT = "a page named the same next page again"
SAME_ITEMS = "a page listed the same items as the page before"


def follows(
    call: str, raw: Sequence[Any], more: bool, shop: Mapping[str, str] | None = None
) -> bool:
    """Whether the page after ``raw`` is asked: ``more`` (the marketplace says one follows),
    unless the page listed nothing (then the listing is stopped, said)."""
    if more and not raw:
        listing_stopped(call, EMPTY_WITH_MORE, shop)
        return False
    return more


class RepeatedPages:
    """Pages listing the items of the page before, in a row: ``read_on`` of them are read
    on (a listing by instant, the kit's ``Seek``, asks again from a page's newest instant,
    and a page all at that instant comes back once before it pages by number), the next
    one ends the listing (said)."""

    def __init__(
        self, call: str, shop: Mapping[str, str] | None = None, *, read_on: int = 1
    ) -> None:
        self._call, self._shop, self._read_on = call, shop, read_on
        self._before: tuple[Any, ...] = ()
        self._in_a_row = 0

    def end(self, items: Sequence[Any]) -> bool:
        """Whether the page listing ``items`` ends the listing."""
        listed = tuple(items)
        self._in_a_row = self._in_a_row + 1 if listed and listed == self._before else 0
        self._before = listed
        if self._in_a_row > self._read_on:
            listing_stopped(self._call, SAME_ITEMS, self._shop)
            return True
        return False


def same_next(call: str, asked: object, following: object) -> bool:
    """Whether the next page named is the one just read (then the listing is stopped)."""
    if following is not None and following == asked:
        listing_stopped(call, SAME_NEXT)
        return True
    return False


def past_bound(call: str, pages: int, most: int = MAX_PAGES) -> bool:
    """Whether a listing read whole has read its ``most`` pages (then it is stopped)."""
    if pages >= most:
        listing_stopped(call, f"{most} pages read: the listing is read no further")
        return True
    return False


# --- listing -------------------------------------------------------------------------------
# How a marketplace's listings page, declared: a connector names its listing's call and
# picks a paging strategy; the strategy says which page to ask next and what the cursor
# holds. Every cursor is the seam's codec (``cursor_of``/``state_of``): a strategy's state,
# a msgspec Struct with the listing's window, handed out as opaque text and refused
# (ValueError) when it is not one the strategy made.
#
# The strategies, each what a marketplace's paging is:
#
# - ``Seek``: the next page asks from the last instant read, so an item changed meanwhile
#   leaves the window without moving the pages still to read; a page whose items all share
#   the instant sought from (seeking again would ask it again) follows the marketplace's
#   next link, or asks the next page number where ``page_param`` names one; without an
#   instant to seek by, the marketplace names the next page (a ``Link`` header) and that is all.
# - ``Offsets``: positions in the listing's sort (``max``/``offset``); each next page starts
#   ``overlap`` places early and what was read already is dropped, and a page that starts
#   past the last item read steps back until it reaches it: items leaving the window move
#   the rest back without one being skipped.
# - ``PageNumbers``: page 1, 2 … while the marketplace says a next page follows.
# - ``SeekToken``: the marketplace's token of the next page, asked alone (it holds the
#   query), the newest item read kept: where a window without an end is complete to.
#
# A strategy of a marketplace's own (a connector's renumbered pages) is a ``Listing.Paging``
# whose step asks its ``Listing.PageRequest`` and says with ``Listing.follows`` whether a page follows.
#
# A listing's call (``Fetch``) answers a page's raw items and what it says of the next page,
# in the strategy's terms: the next link, a total count, whether one follows. Whatever the
# strategy, a page that lists nothing and says another follows, or names the page it is as
# the next, ends the listing (above), and a listing read whole stops at
# ``MAX_PAGES``.

T = TypeVar("T")  # what a page lists, read
S = TypeVar("S", bound="Windowed")  # a strategy's state: its cursor
M = TypeVar("M")  # what an answer says of the next page

# One page's call: its query, or the marketplace's link to it (a strategy that follows
# links); the page's raw items and what the answer says of the next page.
Fetch = Callable[[dict[str, str], str | None], Awaitable[tuple[Sequence[Any], M]]]
# A page's raw items read: the items, and why the others could not be.
Read = Callable[[Sequence[Any]], tuple[tuple[T, ...], tuple[str, ...]]]
# A window as the marketplace's query: its start and end (None: a window without an end).
Query = Callable[[datetime, datetime | None], dict[str, str]]


def logged_each(
    read_one: Callable[[Any], T], log: logging.Logger, what: str, shop: Mapping[str, str]
) -> Read[T]:
    """A listing's ``Read`` of ``read_one`` (ValueError: why an item is left out), each item
    left out logged as ``what`` (its marketplace's "… message") with the ``shop`` it was listed for."""

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
    """A page read: its items (those read before dropped), why others were left out,
    and the state of the next page (None: the last)."""

    items: tuple[T, ...]
    unreadable: tuple[str, ...]
    following: S | None

    def page(self, complete_until: datetime | None = None, *, said: bool = True) -> Page[T]:
        """The seam's page of this step: the next page's cursor, or ``complete_until``
        where it is the last; ``said``: why items were left out goes with it."""
        unreadable = self.unreadable if said else ()
        if self.following is None:
            return Page(items=self.items, next_cursor=None, complete_until=complete_until,
                        unreadable=unreadable)  # fmt: skip
        return Page(items=self.items, next_cursor=cursor_of(self.following), unreadable=unreadable)


class Paging(ABC, Generic[T, S, M]):
    """A paging strategy: its state type, its first state, and one page."""

    state: type[S]
    # Pages repeating the page before read on before the listing ends (``RepeatedPages``).
    repeats_read_on = 1

    @abstractmethod
    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> S:
        """The state of a listing's first page. ``updated``: the listing is by update."""

    def valid(self, state: S, *, updated: bool) -> bool:
        """Whether a decoded state is one this strategy hands out for that listing."""
        return True

    @abstractmethod
    async def step(self, state: S, ask: PageRequest[M], read: Read[T]) -> PageRead[T, S]:
        """The page of ``state``: asked with ``ask``, its items read with ``read``."""


class PageRequest(Generic[M]):
    """A page's call of one listing: its window as the query, the strategy's paging
    parameters beside it."""

    def __init__(self, query: Query, fetch: Fetch[M]) -> None:
        self._query = query
        self._fetch = fetch

    async def __call__(
        self, window: Windowed, paging: dict[str, str] | None = None, link: str | None = None
    ) -> tuple[Sequence[Any], M]:
        return await self._fetch({**self._query(window.low, window.high), **(paging or {})}, link)

    async def alone(self, paging: dict[str, str]) -> tuple[Sequence[Any], M]:
        """A page asked by the strategy's parameters only (a token holding the query)."""
        return await self._fetch(dict(paging), None)


@dataclass(frozen=True)
class _Listing(Generic[T, S, M]):
    """A ``Listing``'s fields and its reading (the public class adds its parts' names)."""

    paging: Paging[T, S, M]
    query: Query
    fetch: Fetch[M]
    legacy: Callable[[str], S | None] | None = None
    name: str = ""

    def start(self, low: datetime, high: datetime | None, *, updated: bool) -> S:
        return self.paging.first(low, high, updated=updated)

    def resume(self, cursor: str, *, updated: bool) -> S:
        """The state of ``cursor``; ValueError for one this listing did not hand out."""
        try:
            return state_of(cursor, self.paging.state, lambda s: self._valid(s, updated))
        except ValueError:
            old = self.legacy(cursor) if self.legacy is not None else None
            if old is None or not self._valid(old, updated):
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
        *,
        said: bool = True,
    ) -> Page[T]:
        """The seam's page of this listing by update: the first of the window from ``low``
        to ``high`` (None: without end), or the one ``cursor`` names; the last page is
        complete until its window's end (``said``: as ``PageRead.page``)."""
        state = (
            self.start(low, high, updated=True)
            if cursor is None
            else self.resume(cursor, updated=True)
        )
        return (await self.step(state, read)).page(state.high, said=said)

    async def every(self, state: S, read: Read[T], *, most: int | None = None) -> PageRead[T, S]:
        """Every page from ``state`` on, read at once: their items and why others were
        left out (a listing read whole before its items are used); ``most``: only its
        first pages are wanted, the rest left unsaid (else ``MAX_PAGES``, said)."""
        items: list[T] = []
        unreadable: list[str] = []
        following: S | None = state
        pages = 0
        repeated = RepeatedPages(self._name, read_on=self.paging.repeats_read_on)
        while following is not None and pages != most and not past_bound(self._name, pages):
            page = await self.step(following, read)
            if repeated.end(page.items):
                break
            items += page.items
            unreadable += page.unreadable
            following = None if same_next(self._name, following, page.following) else page.following
            pages += 1
        return PageRead(tuple(items), tuple(unreadable), None)

    def _valid(self, state: S, updated: bool) -> bool:
        return self.paging.valid(state, updated=updated)

    @property
    def _name(self) -> str:
        return self.name or _named(self.paging)


def _named(paging: object) -> str:
    """A listing as a stopped one is named in logs: by its paging."""
    return f"{type(paging).__name__} listing"


# --- following the marketplace's links, seeking ----------------------------------------------


class WindowCursor(msgspec.Struct, array_like=True, frozen=True):
    """A window read by links or by seeking: ``low`` is where the next page seeks from,
    ``link`` the marketplace's next page when it is followed instead, ``page`` the page
    number of the items sharing ``low`` when the marketplace numbers them."""

    low: datetime
    high: datetime | None
    link: str | None = None
    page: int = 1


class Seek(Paging[T, WindowCursor, str | None]):
    """The next page from the last instant read (``key``: an item's, the listing's sort);
    a page wholly at the instant sought from follows the next link, or asks the next page
    number by ``page_param``. Without ``key``, the marketplace's next link, page after page.
    The listing ends where the marketplace names no next page."""

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


# --- listings whose state says which one it is of ---------------------------------------------


class Dated(msgspec.Struct, array_like=True, frozen=True):
    """A state that says its listing (by update or by creation) and its window."""

    updated: bool
    low: datetime
    high: datetime | None


D = TypeVar("D", bound=Dated)


class OfOneListing(Paging[T, D, M]):
    """A strategy whose cursors are refused to the other listing (one by update given to
    the listing by creation) and out of ``in_range``."""

    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> D:
        return self.state(updated, low, high)

    def valid(self, state: D, *, updated: bool) -> bool:
        return state.updated == updated and self.in_range(state)

    @abstractmethod
    def in_range(self, state: D) -> bool:
        """Whether the state's position is one the strategy gives (no page 0)."""


# --- offsets -------------------------------------------------------------------------------

Position = tuple[datetime, str]  # an item's place in an offset listing's sort


class OffsetState(Dated, array_like=True, frozen=True):
    """An offset listing's state: the next page's offset and the place of the last item
    read."""

    offset: int = 0
    last: Position | None = None


class Offsets(OfOneListing[T, OffsetState, int]):
    """Pages of ``size`` (``size_param``) by ``offset`` in the listing's sort
    (``key``: an item's place in it; ``newest_first``: a sort from the latest place down),
    the answer's total count ending it; each next page ``overlap`` places early, items read
    already dropped, a page past the last item read stepping back to it. Newest first, an
    item changed meanwhile moves to the head: the rest shift down (read again, dropped),
    and the one moved is the next listing's, whose window overlaps."""

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


# --- page numbers --------------------------------------------------------------------------


class Numbered(Dated, array_like=True, frozen=True):
    """A page-numbered listing's state: the next page."""

    page: int = 1


class PageNumbers(OfOneListing[T, Numbered, bool]):
    """Page 1, 2 … (``page``, and ``size`` by ``size_param`` where the marketplace takes
    one) while the answer says a next page follows and the page listed something."""

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


# --- a seek token --------------------------------------------------------------------------


class Token(msgspec.Struct, array_like=True, frozen=True):
    """A token listing's state: its window, the marketplace's token of the next page and
    the newest item read so far (by the strategy's ``key``)."""

    low: datetime
    high: datetime | None
    token: str | None = None
    newest: datetime | None = None


class SeekToken(Paging[T, Token, str | None]):
    """The first page by the window's query, each next one by the token the last answer
    gave (``token_param``, alone) until none is given; ``key``: an item's date."""

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


# --- windows -------------------------------------------------------------------------------
# A listing's window as the query a marketplace takes: its start and its end (none where
# the window has no end, or the marketplace takes none) as parameters, each instant written
# the marketplace's way, beside parameters every page of the listing carries (its sort, its
# page size).


def window_query(
    start: str,
    end: str | None,
    written: Callable[[datetime], str],
    *,
    end_written: Callable[[datetime], str] | None = None,
    **fixed: str,
) -> Query:
    """The ``Query`` of a window [low, high]: ``start`` and ``end`` the instants as
    ``written`` gives them, ``end`` left out when the window has none or the marketplace
    takes none (``end`` None); ``end_written``: how the end is written where it differs
    (rounded up where the marketplace keeps whole seconds); ``fixed`` beside."""

    def query(low: datetime, high: datetime | None) -> dict[str, str]:
        ends = {start: written(low)}
        if end is not None and high is not None:
            ends[end] = (end_written or written)(high)
        return {**ends, **fixed}

    return query


# --- kept cursors --------------------------------------------------------------------------
# A cursor a listing handed out in an earlier layout, still read as the listing's state
# (a ``Listing``'s ``legacy``): a poller or a backfill job keeps its cursor across a
# restart, so the layout it was given in stays readable: one of the seam's codec
# (``earlier``), or text the listing wrote itself (a connector's own, such as ``old_cursor``).

L = TypeVar("L", bound=msgspec.Struct)  # the earlier layout
StateT = TypeVar("StateT")  # the listing's state


def earlier(
    layout: type[L], valid: Callable[[L], bool], state: Callable[[L], StateT]
) -> Callable[[str], StateT | None]:
    """A cursor of ``layout`` (``valid``: one the earlier listing handed out) as the state
    ``state`` makes of it; None for any other cursor."""

    def legacy(cursor: str) -> StateT | None:
        try:
            return state(state_of(cursor, layout, valid))
        except ValueError:
            return None

    return legacy


# --- pages holding their items under a key --------------------------------------------------
# Many JSON APIs answer a listing's page as an object: its items under a key of its own
# (``results``, ``orders``), ``next`` naming the following page when there is one. Such a
# listing is declared (``KeyedPages``), and the kit reads its pages (an answer without its
# list is the marketplace's unreadable answer, naming the call) and makes its call by page
# number (``numbered``) or by offset (``offsets``, a ``Seek`` by links, each link the next
# page's offset; ``counted``, an ``Offsets`` listing ended by the total the answer gives),
# or reads it whole (``every``).

# A listing read whole asks no window: its query is the caller's alone.
NO_WINDOW = datetime.min.replace(tzinfo=UTC)


class JsonCalls(Protocol):
    """What a keyed listing asks of its client: the kit's requester, which pages with this
    module's rules (so this module names it by what it does, not by its class)."""

    @property
    def errors(self) -> CallErrors: ...

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, operation: str = ""
    ) -> Any: ...


@dataclass(frozen=True)
class KeyedPages:
    """``GET <path>`` on ``client``, each page's items under ``key``; ``operation``: the
    call's name where the marketplace names it (else ``GET <path>``); ``key_optional``: a
    page with no item may leave the key out; ``follows``: the answer's key that says a
    next page follows; ``total``: where the answer gives the listing's total, a dotted
    path (``pagination.total``), for ``counted``."""

    client: JsonCalls
    path: str
    key: str = "results"
    operation: str = ""
    key_optional: bool = False
    follows: str = "next"
    total: str = ""

    @property
    def call(self) -> str:
        return self.operation or f"GET {self.path.lstrip('/')}"

    def items(self, body: Any) -> tuple[list[Any], bool]:
        """A page's items (``body``, the answer), and whether the marketplace says a next
        page follows (never after a page that listed nothing)."""
        found = (
            body.get(self.key, [] if self.key_optional else None)
            if isinstance(body, dict)
            else None
        )
        if not isinstance(found, list):
            raise self.client.errors.unreadable(self.call, f"no list of {self.key} in the page")
        return found, follows(self.call, found, bool(body.get(self.follows)))

    async def get(self, query: dict[str, str]) -> tuple[list[Any], bool]:
        """The page ``query`` asks: its items and whether a next one follows."""
        return self.items(await self._answer(query))

    async def _answer(self, query: dict[str, str]) -> Any:
        return await self.client.get_json(self.path, query, operation=self.operation)

    async def counted(self, query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
        """The ``Fetch`` of an ``Offsets`` listing: the page's items and the listing's
        total (at ``total``); an answer without both is the marketplace's unreadable one."""
        body = await self._answer(query)
        found = body.get(self.key) if isinstance(body, dict) else None
        count = body
        for key in self.total.split("."):
            count = count.get(key) if isinstance(count, dict) else None
        if not isinstance(found, list) or not isinstance(count, int):
            raise self.client.errors.unreadable(self.call, f"no {self.key} and {self.total}")
        return found, count

    def numbered(self, *, most: int | None = None, shrinks: bool = False) -> Fetch[bool]:
        """The ``Fetch`` of a listing by page number. ``most``: the page's size, a page
        holding more the marketplace's unreadable answer; ``shrinks``: a 404 past the first
        page is a page past the last one (the listing holds fewer items than when ``next``
        was said), its end."""

        async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
            try:
                items, more = await self.get(query)
            except CallRefused as exc:
                if not shrinks or exc.status != 404 or query.get("page", "1") == "1":
                    raise
                return [], False
            if most is not None and len(items) > most:
                raise self.client.errors.unreadable(
                    self.call, f"{len(items)} items on a page of {most}"
                )
            return items, more

        return fetch

    def offsets(self, size: int) -> Fetch[str | None]:
        """The ``Fetch`` of a listing by ``limit`` and ``offset`` (``size`` items a page)
        for the kit's ``Seek`` by links: a page's link is its offset (none: the first), the
        next page's offset its next link while the marketplace says one follows."""

        async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
            offset = int(link or "0")
            items, more = await self.get({**query, "limit": str(size), "offset": str(offset)})
            return items, str(offset + size) if more else None

        return fetch

    async def every(
        self, query: dict[str, str], *, size: int, most: int | None = None
    ) -> list[Any]:
        """The items of every page by offset asked with ``query`` (``most`` pages at most,
        else ``MAX_PAGES``); a page repeating the one before ends it."""
        listing = Listing(Seek[Any](), lambda _low, _high: query, self.offsets(size),
                          name=self.call)  # fmt: skip
        start = listing.start(NO_WINDOW, None, updated=True)
        return list((await listing.every(start, lambda raw: (tuple(raw), ()), most=most)).items)


# --- the listing and its parts --------------------------------------------------------------
# A listing's parts are reached through it (``kit.Listing.Offsets``), not beside it: the
# paging strategies it takes, the types of its call and of a page's read, and what builds
# its query, its legacy cursors and a page's read.


_Said = TypeVar("_Said")  # a ``Listing.Fetch``'s: what its answer says of the next page
_Item = TypeVar("_Item")  # a ``Listing.Read``'s: an item read


class Listing(_Listing[T, S, M]):
    """One listing of an endpoint, declared: its strategy (``paging``: ``Listing.Seek``,
    ``.Offsets``, ``.PageNumbers``, ``.SeekToken``, or its own ``.Paging``), how its window becomes
    the query (``query``: ``Listing.window_query``) and its call (``fetch``, a
    ``Listing.Fetch``). ``legacy``:
    a cursor an earlier version handed out as its state, None for any other (a cursor a
    caller keeps across a restart; ``Listing.earlier``); ``name``: the listing as a stopped
    one is said (its call), its paging's by default. A page's items are read by a
    ``Listing.Read`` (``Listing.logged_each``: each one left out logged)."""

    Seek: TypeAlias = Seek
    Offsets: TypeAlias = Offsets
    PageNumbers: TypeAlias = PageNumbers
    SeekToken: TypeAlias = SeekToken
    Paging: TypeAlias = Paging
    PageRequest: TypeAlias = PageRequest
    PageRead: TypeAlias = PageRead
    follows = staticmethod(follows)
    Fetch: TypeAlias = Fetch[_Said]
    Read: TypeAlias = Read[_Item]
    window_query = staticmethod(window_query)
    earlier = staticmethod(earlier)
    logged_each = staticmethod(logged_each)
