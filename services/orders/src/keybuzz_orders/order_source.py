"""The order source: what orders asks of a marketplace's orders API, named for what it
gives orders: a window of orders page by page, orders by id, one order with its items.
A connector's order feed (``seam.OrderFeed``) or a shop API's session
(``connector_source.py``) implements it; its Protocols, types and failures are the seam's
(``keybuzz_shared.connectors.orders``, re-exported here).

Its failures are the port's, not the marketplace's: ``SourceUnavailable`` (an outage, to
wait out) and ``SourceRefused`` with its kinds (to say, never to retry), among them
``NotConnected`` (no usable key: wait for the seller to connect again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from keybuzz_shared.connectors.orders import AccessDenied as AccessDenied
from keybuzz_shared.connectors.orders import FetchedOrders as FetchedOrders
from keybuzz_shared.connectors.orders import NotFound as NotFound
from keybuzz_shared.connectors.orders import OrderListing as OrderListing
from keybuzz_shared.connectors.orders import OrderReports as OrderReports
from keybuzz_shared.connectors.orders import OrderSource as OrderSource
from keybuzz_shared.connectors.orders import OrderWindow as OrderWindow
from keybuzz_shared.connectors.orders import QueryRefused as QueryRefused
from keybuzz_shared.connectors.orders import ReportOrders as ReportOrders
from keybuzz_shared.connectors.orders import ReportStage as ReportStage
from keybuzz_shared.connectors.orders import ReportStatus as ReportStatus
from keybuzz_shared.connectors.orders import SourceError as SourceError
from keybuzz_shared.connectors.orders import SourcePage as SourcePage
from keybuzz_shared.connectors.orders import SourceRefused as SourceRefused
from keybuzz_shared.connectors.orders import SourceUnavailable as SourceUnavailable
from keybuzz_shared.connectors.orders import UnreadableOrder as UnreadableOrder
from keybuzz_shared.connectors.orders import each_order as each_order
from keybuzz_shared.connectors.registry import UnknownMarketplace, connector_for, connectors
from keybuzz_shared.connectors.seam import Connector, OrderFeed


def order_feed() -> OrderFeed:
    """The order feed the ports take: the one of the connectors that has one."""
    feeds = {id(c.order_feed): c.order_feed for c in connectors() if c.order_feed is not None}
    if len(feeds) != 1:
        raise LookupError(f"orders takes one order feed; the connectors have {len(feeds)}")
    return next(iter(feeds.values()))


def feed_connector() -> Connector:
    """The connector of that order feed (its marketplace, its name)."""
    feed = order_feed()
    return next(c for c in connectors() if c.order_feed is feed)


class NoSource(SourceRefused):
    """No order source serves this marketplace."""


class NotConnected(SourceRefused):
    """No usable credentials for the shop (none stored, or the marketplace refused them):
    nothing can be read until the seller connects it again.

    ``report`` says so (``connection.reauth_required``) where the source leaves it to the
    caller: once the caller has recorded what the refusal ended (a job FAILED, a sync
    stopped). Said before, the event's consumers (which cancel the tenant's running jobs)
    would race the job's own end."""

    def __init__(
        self, message: str, code: str = "", *, report: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        super().__init__(message, code)
        self._report = report

    async def report(self) -> None:
        if self._report is not None:
            await self._report()


S = TypeVar("S", bound=OrderListing)


def source_for(feed: S, others: Mapping[str, S], marketplace: str) -> S:
    """The order source of a job's, cursor's or message's ``marketplace``: the order
    feed's (``feed``) when its connector has one, else the one bootstrap made for its
    shop API."""
    try:
        if connector_for(marketplace).order_feed is not None:
            return feed
        return others[marketplace]
    except (UnknownMarketplace, KeyError):
        raise NoSource(f"no order source for marketplace {marketplace!r}") from None
