"""Which items of a listing by last change to read in detail again, where each detail is a
call of its own (an allowance spent with care): an item is read again only when its last
change moved since this session last read it, once that reading is known stored: a later
listing starts later (the poller's cursor moved past the poll that read it). Until then a
listing from the same ``since`` may follow a poll that failed to store what it read (cut
at its deadline, the database lost), or one that found nothing new in it (a session just
started): the item is read again at the next listing, then at listings ever further apart
(1, 2, 4 … at most ``max_gap`` skipped), so that a failed poll is made good at once and a
quiet shop's items cost a few calls an hour."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class _Pending:
    """An item read from ``since`` at its ``last`` change, not yet known stored;
    ``skips``: listings to let pass before reading it again, ``gap`` the last such wait."""

    last: datetime
    since: datetime
    gap: int = 0
    skips: int = 0


class Rereads(Generic[K]):
    """A session's ledger of its items' readings (``kept``: items remembered, oldest
    forgotten first; ``max_gap``: listings skipped at most between two readings of an item
    not known stored)."""

    def __init__(self, *, kept: int = 20_000, max_gap: int = 64) -> None:
        self._kept = kept
        self._max_gap = max_gap
        self._read: dict[K, datetime] = {}  # item -> its last change read and known stored
        self._pending: dict[K, _Pending] = {}  # item -> its reading not yet known stored

    def confirm(self, since: datetime) -> None:
        """The items read by listings that started before ``since``: the poller moved its
        cursor on since, past what they gave."""
        for key, pending in list(self._pending.items()):
            if pending.since < since:
                del self._pending[key]
                self._read.pop(key, None)
                self._read[key] = pending.last
        while len(self._read) > self._kept:
            del self._read[next(iter(self._read))]

    def worth_reading(self, key: K, last: datetime, since: datetime) -> bool:
        """Whether the item changed last at ``last`` is read in the listing from ``since``;
        an item to be read is noted pending."""
        if self._read.get(key) == last:
            return False  # read, stored, and no change since
        pending = self._pending.get(key)
        if pending is None or pending.last != last or pending.since != since:
            self._pending[key] = _Pending(last, since)
            while len(self._pending) > self._kept:
                del self._pending[next(iter(self._pending))]
            return True
        if pending.skips > 0:
            pending.skips -= 1
            return False
        pending.gap = min(max(1, pending.gap * 2), self._max_gap)
        pending.skips = pending.gap
        return True
