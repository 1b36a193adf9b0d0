"""A listing whose answers number their pages and read item by item (an XML answer's
``Node.each``): a page is the items read, why each other one could not be, and the
answer's paging (the connector's Struct, decoded from the page's element: its page, how
many follow, how many items the listing holds, whatever the marketplace names them). The
connector asks a page in its own typed query, from the page's number and the window
``iso_window`` wrote (``window_of``), for the kit's ``Renumbered`` strategy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from keybuzz_shared.connectors.kit import Listing, Node
from keybuzz_shared.connectors.seam import read_each

T = TypeVar("T")  # an item, read
P = TypeVar("P", bound=msgspec.Struct)  # a page's paging, as the answer says it

# What a numbered page says of the listing: whether more pages follow, and how many
# items it holds in all (None: not said), as the kit's ``Renumbered`` reads it.
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


@dataclass(frozen=True)
class Listed(Generic[T, P]):
    """One page: its ``paging``, its ``items`` read, why each other one could not be."""

    paging: P
    items: tuple[T, ...]
    unreadable: tuple[str, ...] = ()

    @property
    def listed(self) -> int:
        """How many items the page lists, those left out unread included."""
        return len(self.items) + len(self.unreadable)


def read_listed(node: Node, item: str, read: Callable[[Node], T], paging: type[P]) -> Listed[T, P]:
    """The page ``node`` is: each ``item`` child read by ``read`` (one off its shape costs
    only itself), its paging decoded from ``node``'s own children."""
    items, unreadable = node.each(item, read)
    return Listed(node.decode(paging), items, unreadable)


# --- a page read from its document -------------------------------------------------------
# A page whose document was read item by item already (``Node.each``) hands its items and
# why the others were left out on together (``with_unread``), each then mapped
# (``map_each``): an ``Unread`` one said, never the page lost.


class Unread(str):
    """An item a page's document listed that could not be read: why, with its id."""


def with_unread(items: Sequence[Any], unreadable: Sequence[str]) -> list[Any]:
    """A page's items read from its document and, after them, why each other one could
    not be: a listing's raw items, for ``map_each``."""
    return [*items, *map(Unread, unreadable)]


def mapped(map_one: Callable[[Any], T]) -> Callable[[Any], T]:
    """``map_one`` of a ``with_unread`` item; ValueError (why) for an ``Unread`` one."""

    def mapped_one(item: Any) -> T:
        if isinstance(item, Unread):
            raise ValueError(str(item))
        return map_one(item)

    return mapped_one


def map_each(map_one: Callable[[Any], T]) -> Listing.Read[T]:
    """A listing's ``Read`` of ``with_unread`` items: each mapped, each ``Unread`` one said."""
    return lambda raw: read_each(raw, mapped(map_one))
