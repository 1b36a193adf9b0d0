"""A listing's window as the query a marketplace takes: its start and its end (none where
the window has no end, or the marketplace takes none) as parameters, each instant written
the marketplace's way, beside parameters every page of the listing carries (its sort, its
page size)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keybuzz_shared.connectors.kit.listing import Query


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
