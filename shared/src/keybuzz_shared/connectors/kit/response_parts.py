"""A shop-API connector's response parts, declared: its response rule (``OwnRule``) and
the marketplace's own figure for a shop's response time, read on the shop's session (the
``KitSession``'s ``figure``, asked there by ``SessionFigures``), so that the figure's calls
go through the shop's one client and count against its limits with every other call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keybuzz_shared.connectors.kit.connector import KitSession
from keybuzz_shared.connectors.seam import (
    MarketplaceMark,
    MarketplaceSession,
    ResponseFigure,
    ResponseRule,
)


@dataclass(frozen=True)
class OwnRule:
    """The seam's ``ResponseWindow`` of a marketplace whose ``rule`` is its own and whose
    "no response needed" an agent cannot mark through its API: ``note`` says so."""

    rule: ResponseRule
    note: str

    @classmethod
    def hours(cls, hours: float, note: str) -> OwnRule:
        """The marketplace's ``hours`` to answer, run on its own clock of each thread (since
        when it says the thread waits for the shop), a tenant free to set a shorter goal."""
        window = timedelta(hours=hours)
        return cls(
            ResponseRule(window=window, marketplace_clock=True, tenant_may_shorten=True), note
        )

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        return MarketplaceMark(synced=False, note=self.note, url=None)


@dataclass(frozen=True)
class SessionFigures:
    """The seam's ``ResponseFigures`` of a connector whose sessions carry the shop's
    ``figure``; ``cache_seconds``: how long a figure holds; ``label``: the marketplace, as
    a session without one is refused (TypeError)."""

    cache_seconds: float
    label: str

    async def response_delay(
        self, session: MarketplaceSession, *, since: datetime, until: datetime
    ) -> ResponseFigure | None:
        if not isinstance(session, KitSession) or session.figure is None:
            raise TypeError(f"not a {self.label} shop's session")
        return await session.figure(since, until)
