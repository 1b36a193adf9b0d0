"""The marketplace's own figure for a shop's response time (the poller's report shows it
beside ours)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import msgspec

from keybuzz_shared.connectors.seam.shop_api import MarketplaceSession


class ResponseFigure(msgspec.Struct, frozen=True, kw_only=True):
    """A shop's average response time as the marketplace computes it, over the window it
    measured (the one asked for, or the nearest the marketplace has)."""

    name: str  # the marketplace's own name for the figure (what a person looks up there)
    average_response_seconds: float
    since: datetime | None  # aware; the window measured, [since, until); None: from the start
    until: datetime
    computed_at: datetime | None = None  # when the marketplace last computed it, if it says


class ResponseFigures(Protocol):
    """A marketplace that publishes its own measure of a shop's response time."""

    @property
    def cache_seconds(self) -> float:
        """How long a figure holds: the marketplace's own refresh or allowed call frequency.
        A service asks again for the same shop and window no sooner."""
        ...

    async def response_delay(
        self, session: MarketplaceSession, *, since: datetime, until: datetime
    ) -> ResponseFigure | None:
        """The shop's figure over ``[since, until)`` (the session's shop), or over the
        nearest window the marketplace measures; None when it measures none close to it.
        Raises the seam's errors (MarketplaceUnavailable, CredentialsRefused …)."""
        ...
