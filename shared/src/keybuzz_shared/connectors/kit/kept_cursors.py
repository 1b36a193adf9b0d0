"""A cursor a listing handed out in an earlier layout, still read as the listing's state
(a ``Listing``'s ``legacy``): a poller or a backfill job keeps its cursor across a
restart, so the layout it was given in stays readable: one of the seam's codec
(``earlier``), or text the listing wrote itself (``earlier_text``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgspec

from keybuzz_shared.connectors.seam import state_of

L = TypeVar("L", bound=msgspec.Struct)  # the earlier layout
S = TypeVar("S")  # the listing's state


def earlier(
    layout: type[L], valid: Callable[[L], bool], state: Callable[[L], S]
) -> Callable[[str], S | None]:
    """A cursor of ``layout`` (``valid``: one the earlier listing handed out) as the state
    ``state`` makes of it; None for any other cursor."""

    def legacy(cursor: str) -> S | None:
        try:
            return state(state_of(cursor, layout, valid))
        except ValueError:
            return None

    return legacy


def earlier_text(pattern: str, state: Callable[[re.Match[str]], S]) -> Callable[[str], S | None]:
    """A cursor written as text matching ``pattern`` whole, as the state ``state`` makes of
    its groups (a ValueError: a field the earlier listing never wrote); None for any other
    cursor."""
    form = re.compile(pattern)

    def legacy(cursor: str) -> S | None:
        found = form.fullmatch(cursor)
        try:
            return state(found) if found is not None else None
        except ValueError:
            return None

    return legacy
