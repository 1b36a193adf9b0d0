"""One page of a listing, whatever it lists."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


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
