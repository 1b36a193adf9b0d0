"""A listing's window as its marketplace's query, declared: the parameter its start goes
in, the one its end goes in (none: a listing the marketplace does not end), how each
instant is written (ISO 8601 in UTC by default; to the second, rounded up at the end where
the marketplace keeps whole seconds) and the parameters every page of it carries (its
sort, its page size)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keybuzz_shared.connectors.kit.listing import Query
from keybuzz_shared.connectors.kit.wire import iso_z


def window(
    low: str,
    high: str | None = None,
    *,
    at: Callable[[datetime], str] = iso_z,
    high_at: Callable[[datetime], str] | None = None,
    **fixed: str,
) -> Query:
    """The ``Query`` of a window: its start in ``low``, its end (where it has one) in
    ``high``, written by ``at`` (the end by ``high_at``, where it differs), beside
    ``fixed``."""

    def query(start: datetime, end: datetime | None) -> dict[str, str]:
        ends = {low: at(start)}
        if high is not None and end is not None:
            ends[high] = (high_at or at)(end)
        return {**ends, **fixed}

    return query
