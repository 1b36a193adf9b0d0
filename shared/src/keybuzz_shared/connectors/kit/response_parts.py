"""A shop-API connector's response parts, declared: its response rule (``OwnRule``) and
the marketplace's own figure for a shop's response time, read on the shop's session (a
``FigureSession`` carries it, ``SessionFigures`` asks it there), so that the figure's calls
go through the shop's one client and count against its limits with every other call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from keybuzz_shared.connectors.kit.connector import KitSession
from keybuzz_shared.connectors.seam import (
    MarketplaceMark,
    MarketplaceSession,
    OrderSource,
    ReplyChannel,
    ResponseFigure,
    ResponseRule,
    SessionInbox,
)

# The shop's figure over a window [since, until), or over the nearest one the marketplace
# measures; None when it measures none close to it.
Figure = Callable[[datetime, datetime], Awaitable[ResponseFigure | None]]


@dataclass(frozen=True)
class OwnRule:
    """The seam's ``ResponseWindow`` of a marketplace whose ``rule`` is its own and whose
    "no response needed" an agent cannot mark through its API: ``note`` says so."""

    rule: ResponseRule
    note: str

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        return MarketplaceMark(synced=False, note=self.note, url=None)


class FigureSession(KitSession):
    """The kit's session with the shop's own response ``figure``."""

    def __init__(
        self,
        inbox: SessionInbox,
        replies: ReplyChannel,
        orders: OrderSource,
        *,
        verify: Callable[[], Awaitable[object]],
        figure: Figure,
    ) -> None:
        super().__init__(inbox, replies, orders, verify=verify)
        self.figure = figure


@dataclass(frozen=True)
class SessionFigures:
    """The seam's ``ResponseFigures`` of a connector whose sessions are ``FigureSession``s;
    ``cache_seconds``: how long a figure holds; ``label``: the marketplace, as a wrong
    session's TypeError names it."""

    cache_seconds: float
    label: str

    async def response_delay(
        self, session: MarketplaceSession, *, since: datetime, until: datetime
    ) -> ResponseFigure | None:
        if not isinstance(session, FigureSession):
            raise TypeError(f"not a {self.label} shop's session")
        return await session.figure(since, until)
