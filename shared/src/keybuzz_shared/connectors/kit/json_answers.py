"""JSON answers read into a connector's Structs, where an API's answers carry what was asked
and a listing's items and total (``JsonAnswers``), and the small forms every JSON API's
calls share (an id as one path segment, an instant, a person's name)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec

from keybuzz_shared.connectors.kit.listing import (
    Fetch,
    Listing,
    Offsets,
    Paging,
    Read,
    Seek,
    SeekToken,
    follows,
    window_query,
)
from keybuzz_shared.connectors.kit.requester import Requester
from keybuzz_shared.connectors.seam import AnswerUnreadable, CallRefused, read_each
from keybuzz_shared.mended import json_decoded
from keybuzz_shared.times import as_utc

# --- wire: a page decoded as ``list[msgspec.Raw]`` keeps each item's bytes, so an item off
# its shape costs that item, said, never the page --------------------------------------

T = TypeVar("T")


def read_as(kind: type[T], item: Any, what: str, *, call: str | None = None) -> T:
    """ValueError "<what> off its shape"; ``call``: ``item`` is that call's whole answer,
    off its shape the call's ``AnswerUnreadable``. Bytes the typed decoder refuses (it judges
    each of a key given twice) are read again as a JSON value, the key its last value."""
    try:
        if not isinstance(item, msgspec.Raw | bytes):
            return msgspec.convert(item, kind)
        try:
            return json_decoded(item, kind)
        except msgspec.ValidationError:
            return msgspec.convert(json_decoded(item), kind)
    except (msgspec.DecodeError, RecursionError) as exc:  # ValidationError is a DecodeError
        if call is not None:
            raise AnswerUnreadable(f"{call} answered no {what}: {exc}") from None
        raise ValueError(f"{what} off its shape: {str(exc)[:200]}") from None


def reader(kind: type[T], what: str) -> Read[T]:
    return lambda raw: read_each(raw, lambda item: read_as(kind, item, what))


def named_in(items: Any, key: str, kinds: tuple[type, ...] = (int, str)) -> list[Any]:
    """Each listed item's ``key`` of ``kinds`` (the accounts a credential check's answer names)."""
    listed = items if isinstance(items, list) else []
    return [i[key] for i in listed if isinstance(i, dict) and isinstance(i.get(key), kinds)]


def segment(value: str) -> str | None:
    """Quoted; None for one that would name another path (empty, ``.``, ``..``)."""
    return None if value.strip() in ("", ".", "..") else quote(value, safe="")


def path_segment(value: str, what: str = "an id") -> str:
    """``segment``, a ValueError where it would name another path."""
    found = segment(value)
    if found is None:
        raise ValueError(f"{value!r} is not {what}")
    return found


def iso_z(moment: datetime, unit: str = "auto") -> str:
    """ISO 8601 in UTC, "Z"; ``unit``: ``isoformat``'s ``timespec`` (cut, not rounded)."""
    return as_utc(moment).isoformat(timespec=unit).replace("+00:00", "Z")


class PersonName(msgspec.Struct, frozen=True):
    """A person's two parts however its marketplace spells them, either missing."""

    first_camel: str | None = msgspec.field(name="firstName", default=None)
    last_camel: str | None = msgspec.field(name="lastName", default=None)
    first_lower: str | None = msgspec.field(name="firstname", default=None)
    last_lower: str | None = msgspec.field(name="lastname", default=None)
    first_snake: str | None = msgspec.field(name="first_name", default=None)
    last_snake: str | None = msgspec.field(name="last_name", default=None)

    @property
    def full(self) -> str | None:
        first = self.first_camel or self.first_lower or self.first_snake
        last = self.last_camel or self.last_lower or self.last_snake
        return " ".join(n for n in (first, last) if n) or None


def at_path(answer: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``answer`` ("": the answer itself; None: absent)."""
    for key in filter(None, path.split(".")):
        answer = answer.get(key) if isinstance(answer, dict) else None
    return answer


def raw_at(raw: msgspec.Raw | None, path: str, shape: Any = msgspec.Raw) -> Any:
    """The value at a dotted ``path`` of an answer's bytes as a ``shape`` (None: absent, or
    off it), each level on the way skimmed, none decoded into a form of its own."""
    try:
        for key in filter(None, path.split(".")):
            raw = json_decoded(raw, dict[str, msgspec.Raw]).get(key) if raw else None
        return json_decoded(raw, shape) if raw else None
    except (msgspec.DecodeError, RecursionError):  # and ValidationError
        return None


@dataclass(frozen=True)
class JsonAnswers:
    """A JSON API's answers on one client as declared: what was asked under ``content``
    ("": the answer itself), a listing's items under ``items`` (``items_optional``: an empty
    page may leave them out) and, where the API says how many it holds, their ``total``
    (dotted paths): an offset listing's end; ``follows``: where it says a next page follows,
    or names the token that asks it."""

    client: Requester
    content: str = ""
    items: str = "results"
    total: str = ""
    follows: str = "next"
    items_optional: bool = False

    def read(self, kind: type[T], what: str) -> Callable[[Any], T]:
        """An answer's content as a ``kind`` (ValueError naming ``what``: off its shape)."""
        return lambda answer: read_as(kind, at_path(answer, self.content), what)

    async def get(self, path: str, kind: Any = Any, *, operation: str = "") -> Any:
        """``GET <path>``'s content as a ``kind``; off its shape, the unreadable answer."""
        answer = await self.client.get_json(path, operation=operation)
        try:
            return self.read(kind, operation or path)(answer)
        except ValueError as exc:
            raise self.client.errors.unreadable(f"GET {path}", str(exc)) from None

    def page_of(self, call: str, body: Any) -> tuple[list[Any], bool]:
        """The items of ``call``'s page, and whether a next one follows."""
        missing: list[Any] | None = [] if self.items_optional else None
        found = body.get(self.items, missing) if isinstance(body, dict) else None
        if not isinstance(found, list):
            raise self.client.errors.unreadable(call, f"no list of {self.items} in the page")
        return found, follows(call, found, bool(body.get(self.follows)))

    async def page(
        self, path: str, query: dict[str, str], *, operation: str = ""
    ) -> tuple[list[Any], bool]:
        body = await self.client.get_json(path, query, operation=operation)
        return self.page_of(operation or f"GET {path.lstrip('/')}", body)

    def offsets(self, path: str, size: int, *, operation: str = "") -> Fetch[str | None]:
        """By ``limit`` and ``offset``, for a ``Seek`` by links: each link an offset."""

        async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
            offset = int(link or "0")
            paging = {"limit": str(size), "offset": str(offset)}
            items, more = await self.page(path, query | paging, operation=operation)
            return items, str(offset + size) if more else None

        return fetch

    async def every(
        self,
        path: str,
        query: dict[str, str],
        *,
        size: int,
        most: int | None = None,
        operation: str = "",
    ) -> list[Any]:
        """Every page by ``offsets`` (``most``: only the first pages wanted)."""
        fetch = self.offsets(path, size, operation=operation)
        name = operation or f"GET {path.lstrip('/')}"
        listing = Listing(Seek[Any](), lambda _low, _high: query, fetch, name=name)
        # Read whole, it asks no window: its query is the caller's alone.
        start = listing.start(datetime.min.replace(tzinfo=UTC), None, updated=True)
        return list((await listing.every(start, lambda raw: (tuple(raw), ()), most=most)).items)

    def listing(
        self,
        path: str,
        paging: Paging[T, Any, Any],
        since: str,
        *,
        until: str | None = None,
        operation: str = "",
        written: Callable[[datetime], str] = iso_z,
        fixed: Mapping[str, str] | None = None,
        each: Callable[[Fetch[Any]], Fetch[Any]] | None = None,
        legacy: Callable[[str], Any] | None = None,
        most: int | None = None,
        shrinks: bool = False,
        paced: bool = False,
    ) -> Listing[T, Any, Any]:
        """``GET <path>`` from ``since`` to ``until`` (their parameters, ``written`` so),
        ``fixed`` on every page: by offset up to the answer's total for an ``Offsets``
        paging, by the token the answer names for a ``SeekToken`` one (``paced``: its first
        page), else by page while the answer says a next one follows (``most``: the page's
        size; ``shrinks``: a 404 past the first page is past the last one, fewer items than
        when a next one was said: the end); ``each``: the fetch as its items are read."""
        call = operation or f"GET {path.lstrip('/')}"

        async def counted(query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
            body = await self.client.get_json(path, query, operation=operation)
            found, count = at_path(body, self.items), at_path(body, self.total)
            if not isinstance(found, list) or not isinstance(count, int):
                raise self.client.errors.unreadable(call, f"no {self.items} and {self.total}")
            return found, count

        async def numbered(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
            try:
                items, more = await self.page(path, query, operation=operation)
            except CallRefused as exc:
                if not shrinks or exc.status != 404 or query.get("page", "1") == "1":
                    raise
                return [], False
            if most is not None and len(items) > most:
                raise self.client.errors.unreadable(call, f"{len(items)} items on a page of {most}")
            return items, more

        async def by_token(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
            """Each page's items kept as their bytes, so one off its shape costs only itself
            and one on it is decoded from them into its kind alone (``read_as``)."""
            first = paced and isinstance(paging, SeekToken) and paging.token_param not in query
            raw = await self.client.get_json(
                path, query, operation=operation, paced=first, shape=msgspec.Raw
            )
            items = raw_at(raw, self.items, list[msgspec.Raw])
            if items is None:
                raise self.client.errors.unreadable(call, f"no list of {self.items}")
            return items, raw_at(raw, self.follows, str) or None

        fetch: Fetch[Any] = numbered
        if isinstance(paging, Offsets):
            fetch = counted
        elif isinstance(paging, SeekToken):
            fetch = by_token
        window, carried = window_query(since, until, written), dict(fixed or {})
        query = (lambda low, high: window(low, high) | carried) if carried else window
        return Listing(paging, query, each(fetch) if each else fetch, legacy)
