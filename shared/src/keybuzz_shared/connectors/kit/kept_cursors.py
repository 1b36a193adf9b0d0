"""A cursor a listing handed out in an earlier layout, still read as the listing's state
(a ``Listing``'s ``legacy``): a poller or a backfill job keeps its cursor across a
restart, so the layout it was given in stays readable."""

from __future__ import annotations

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
