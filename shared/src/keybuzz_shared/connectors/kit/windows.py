"""A listing's window as the query a marketplace takes: its start and its end (none where
the window has no end) as two parameters, each instant written the marketplace's way,
beside parameters every page of the listing carries (its sort, its page size)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keybuzz_shared.connectors.kit.listing import Query


def window_query(start: str, end: str, written: Callable[[datetime], str], **fixed: str) -> Query:
    """The ``Query`` of a window [low, high]: ``start`` and ``end`` the instants as
    ``written`` gives them, ``end`` left out when the window has no end; ``fixed`` beside."""

    def query(low: datetime, high: datetime | None) -> dict[str, str]:
        ends = {start: written(low)} | ({end: written(high)} if high is not None else {})
        return {**ends, **fixed}

    return query
