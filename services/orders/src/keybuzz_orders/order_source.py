"""The order source: what orders asks of a marketplace's orders API (Amazon's SP-API today,
``adapters.py``), named for what it gives orders, so that another marketplace implements the
same port: a window of orders page by page, orders by id, one order with its items.

Its failures are the port's, not the marketplace's: ``SourceUnavailable`` (an outage, to
wait out) and ``SourceRefused`` with its kinds (to say, never to retry).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from keybuzz_shared.connectors.names import AMAZON
from keybuzz_shared.errors import DependencyUnavailable

from keybuzz_orders.domain import OrderRow


class SourceError(Exception):
    """The order source failed; the message names what is wrong, never a secret."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code  # the source's own words for it (e.g. ``HTTP 403 Unauthorized``)


class SourceUnavailable(SourceError, DependencyUnavailable):
    """Down, or throttled past the retries: the same call succeeds later."""


class SourceRefused(SourceError):
    """The source will not answer this (credentials missing or revoked, access denied, a
    bad query): asking again changes nothing."""


class AccessDenied(SourceRefused):
    """This application may not read it (a role missing, the API closed to us)."""


class NotFound(SourceRefused):
    """No such order (or not this seller's)."""


class QueryRefused(SourceRefused):
    """The query breaks the API's rules: a bug of ours, or a page token that expired."""


@dataclass(frozen=True)
class OrderWindow:
    """A listing of one marketplace's orders, created (or updated) after a moment, read a
    page at a time: the next page repeats the window with the last page's token."""

    marketplace_id: str
    created_after: datetime | None = None
    created_before: datetime | None = None  # None: the source closes the window
    updated_after: datetime | None = None
    page_size: int = 100
    page_token: str | None = None


@dataclass(frozen=True)
class UnreadableOrder:
    order_id: str | None  # when the source's record shows it
    reason: str


@dataclass(frozen=True)
class SourcePage:
    """One page of a window. The ``*_before`` moments are the source's cursor: the listing
    is complete up to there (never our clock)."""

    orders: list[OrderRow]
    next_token: str | None  # None: the window's last page
    created_before: datetime | None = None
    updated_before: datetime | None = None
    unreadable: list[UnreadableOrder] = field(default_factory=list)
    rate_limit_waits: int = 0
    partial: bool = False  # rows without the buyer and packages: never erase a full read


@dataclass(frozen=True)
class FetchedOrders:
    orders: list[OrderRow]
    refused: dict[str, str]  # order id -> why the source would not give it


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


class NoSource(SourceRefused):
    """No order source serves this marketplace."""


S = TypeVar("S", bound=OrderListing)


def source_for(amazon: S, others: Mapping[str, S], marketplace: str) -> S:
    """The order source of a job's, cursor's or message's ``marketplace``: Amazon's, or
    the one bootstrap made for a marketplace behind the connector seam."""
    if marketplace == AMAZON:
        return amazon
    try:
        return others[marketplace]
    except KeyError:
        raise NoSource(f"no order source for marketplace {marketplace!r}") from None


async def each_order(
    order: Callable[[str, str], Awaitable[OrderRow]], tenant_id: str, order_ids: Sequence[str]
) -> FetchedOrders:
    """``orders_by_ids`` from a one-order call: refusals noted, an outage raised."""
    fetched = FetchedOrders(orders=[], refused={})
    for order_id in order_ids:
        try:
            fetched.orders.append(await order(tenant_id, order_id))
        except SourceRefused as exc:  # an outage (SourceUnavailable) goes up
            fetched.refused[order_id] = str(exc)
    return fetched


class ReportStage(StrEnum):
    PENDING = "PENDING"  # asked for, being prepared
    DONE = "DONE"  # its document can be read
    FAILED = "FAILED"  # the source gave up on it


@dataclass(frozen=True)
class ReportStatus:
    stage: ReportStage
    detail: str  # the source's own word for it (IN_PROGRESS, CANCELLED, …)
    document_id: str | None = None
    rate_limit_waits: int = 0


@dataclass(frozen=True)
class ReportOrders:
    """A report document's orders in the document's order: a row each, or why one could
    not be read (counted as an error, never a lost batch)."""

    orders: AsyncIterator[OrderRow | UnreadableOrder]
    rate_limit_waits: int = 0


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
