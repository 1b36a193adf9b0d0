"""The marketplace's own rule for the seller's response time (used by poller)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import msgspec

CALENDAR, WORKING_DAYS = "calendar", "working_days"
SATURDAY = 5  # datetime.weekday(): Saturday and Sunday are no working days


class ResponseRule(msgspec.Struct, frozen=True, kw_only=True):
    """How long a marketplace gives a seller to answer a buyer message."""

    window: timedelta
    # ``CALENDAR``: weekends, holidays and nights count like any hour; ``WORKING_DAYS``:
    # Saturdays and Sundays (UTC) do not count, holidays do.
    clock: str = CALENDAR
    # Whether the marketplace offers an API to mark a message "no response needed" on its side.
    mark_api: bool = False
    # The marketplace says since when each thread waits for the seller's reply
    # (``InboxMessage.reply_needed_since``): a ticket's deadline starts there, not when the
    # buyer's message reached us, and ends when the marketplace clears it.
    marketplace_clock: bool = False
    # A tenant may set a shorter window for its tickets there, never a longer one.
    tenant_may_shorten: bool = False

    def due(self, start: datetime) -> datetime:
        """When an answer is due for a message waiting since ``start``, on the rule's clock."""
        if self.clock != WORKING_DAYS:
            return start + self.window
        at, left = start, self.window
        while True:
            if at.weekday() >= SATURDAY:  # skipped to the next Monday's start
                monday = at + timedelta(days=7 - at.weekday())
                at = monday.replace(hour=0, minute=0, second=0, microsecond=0)
                continue
            midnight = (at + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            if at + left <= midnight:
                return at + left
            left -= midnight - at
            at = midnight


class MarketplaceMark(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Whether our "no response needed" reaches the marketplace, and where the agent marks it."""

    synced: bool
    note: str
    url: str | None  # the page of the buyer's thread in the seller's console, if one can be built


class ResponseWindow(Protocol):
    """A marketplace that measures the seller by its own response rule (no tenant override)."""

    @property
    def rule(self) -> ResponseRule: ...

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        """Where an agent marks a message "no response needed" on the marketplace's side."""
        ...
