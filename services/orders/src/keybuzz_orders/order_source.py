"""The order source: what orders asks of a marketplace's orders API, named for what it
gives orders: a window of orders page by page, orders by id, one order with its items.
A connector's order feed (``seam.OrderFeed``) or a shop API's session
(``connector_source.py``) implements it; the types and failures are the seam's
(``keybuzz_shared.connectors.orders``, re-exported here).

Its failures are the port's, not the marketplace's: ``SourceUnavailable`` (an outage, to
wait out) and ``SourceRefused`` with its kinds (to say, never to retry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from keybuzz_shared.connectors.orders import AccessDenied as AccessDenied
from keybuzz_shared.connectors.orders import FetchedOrders as FetchedOrders
from keybuzz_shared.connectors.orders import NotFound as NotFound
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

from keybuzz_orders.domain import OrderRow


class OrderListing(Protocol):
    async def orders_in_window(self, tenant_id: str, window: OrderWindow) -> SourcePage:
        """``SourceUnavailable`` / ``SourceRefused`` (and its kinds) when it fails."""
        ...


class OrderSource(OrderListing, Protocol):
    """What orders asks of a marketplace's orders API, for one tenant's seller."""

    async def order(self, tenant_id: str, order_id: str) -> OrderRow:
        """One order with its items; ``NotFound``, ``SourceRefused``, ``SourceUnavailable``."""
        ...

    async def orders_by_ids(self, tenant_id: str, order_ids: Sequence[str]) -> FetchedOrders:
        """The orders the source gives, and why it refused the others; raises
        ``SourceUnavailable`` when it is down (the caller tries all of them again)."""
        ...


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


class OrderReports(Protocol):
    """A marketplace's bulk export of the orders created in a window: asked for, prepared
    by the source (minutes), then read. Its rows are partial (no buyer, no packages)."""

    async def request(
        self, tenant_id: str, marketplace_id: str, start: datetime, end: datetime
    ) -> tuple[str, int]:
        """The report's id, and the rate-limit waits it cost."""
        ...

    async def status(self, tenant_id: str, report_id: str) -> ReportStatus:
        """``NotFound`` once the source has dropped it."""
        ...

    async def orders(
        self, tenant_id: str, document_id: str, marketplace_id: str
    ) -> ReportOrders: ...
