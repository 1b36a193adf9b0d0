"""One page of a listing, whatever it lists, and what connectors make pages of: a
listing's state as an opaque cursor, the items of a marketplace's answer read one by one."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")
S = TypeVar("S")


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a listing. ``next_cursor`` asks for the next page (None: the last one):
    opaque to callers, who pass it back as it is and never keep it past the listing (a
    page number, a ``Link`` URL, a seek token: the connector's choice). The last page's
    ``complete_until`` is where the next listing starts (``since``); ``unreadable`` says
    why items the marketplace listed were left out."""

    items: tuple[T, ...]
    next_cursor: str | None
    complete_until: datetime | None = None
    unreadable: tuple[str, ...] = ()


def cursor_of(state: Any) -> str:
    """A listing's state (a msgspec Struct, a tuple…) as a ``next_cursor``: opaque text."""
    return base64.urlsafe_b64encode(msgspec.msgpack.encode(state)).decode()


def state_of(cursor: str, kind: type[S], valid: Callable[[S], bool] | None = None) -> S:
    """The state ``cursor_of`` made of ``cursor``; ValueError for one it did not make, or
    whose state is not ``valid`` (a page number below one, a window ending before it
    starts: a cursor edited by hand)."""
    try:
        state = msgspec.msgpack.decode(base64.urlsafe_b64decode(cursor.encode()), type=kind)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ValueError("not a cursor this connector handed out") from None
    if valid is not None and not valid(state):
        raise ValueError("not a cursor this connector handed out")
    return state


def read_each(
    raw: Iterable[Any], read: Callable[[Any], T]
) -> tuple[tuple[T, ...], tuple[str, ...]]:
    """Each item of a marketplace's answer by ``read``, or why not (its ValueError): a
    page's ``items`` and ``unreadable``."""
    items: list[T] = []
    unreadable: list[str] = []
    for item in raw:
        try:
            items.append(read(item))
        except ValueError as exc:
            unreadable.append(str(exc))
    return tuple(items), tuple(unreadable)
