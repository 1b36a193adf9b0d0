"""What an order source gives the orders service, whichever marketplace it reads: KeyBuzz's
order vocabulary and rows, a listing's windows and pages, reports, the source's failures,
and the templated messages to a buyer. Each connector's order feed maps its marketplace's
answers into these (docs/ARCHITECTURE.md, "The connector seam").

Its failures are the orders ports', not a marketplace's: ``SourceUnavailable`` (an outage,
to wait out) and ``SourceRefused`` with its kinds (to say, never to retry).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Protocol

import msgspec

from keybuzz_shared import times
from keybuzz_shared.errors import DependencyUnavailable


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"


class DeliveryStatus(StrEnum):
    PREPARING = "PREPARING"
    SHIPPED = "SHIPPED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    DELAYED = "DELAYED"
    LOST = "LOST"


def order_ref(external_order_id: str) -> str:
    """What agents call an order (seed 003: ``407-8949262-6149120`` → ``#149120``)."""
    return "#" + external_order_id.replace("-", "")[-6:]


# Structs, not dataclasses: built in C, they stay a small part of a report order's
# import (docs/BENCHMARKS.md).
class ItemRow(msgspec.Struct, frozen=True, kw_only=True):
    external_item_id: str
    sku: str | None
    asin: str | None
    title: str | None
    quantity: int
    unit_price: Decimal | None
    currency: str | None
    marketplace_state: str | None = None  # the line's own state, where a marketplace has one
    refunded_amount: Decimal | None = None  # refunded on the line, where a marketplace says


class OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    """An order as we store it, from any marketplace; made by ``new_order_row``. What a
    source does not carry (the buyer in a report, the packages) is None.
    ``marketplace_status`` is the marketplace's own word for the order's state."""

    external_order_id: str
    order_ref: str
    marketplace_id: str | None
    order_date: datetime
    marketplace_updated_at: datetime
    order_status: OrderStatus
    marketplace_status: str | None
    delivery_status: DeliveryStatus | None
    items: list[ItemRow]
    customer_name: str | None = None
    customer_email: str | None = None
    currency: str | None = None
    total_amount: Decimal | None = None
    fulfillment_channel: str | None = None
    ship_by: datetime | None = None
    carrier: str | None = None
    tracking_code: str | None = None
    shipping_address: dict[str, Any] | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    sales_channel: str | None = None  # the marketplace's own word for where it was sold

    @property
    def cancelled(self) -> bool:
        return self.order_status is OrderStatus.CANCELLED


_FROM_STATUS: Final = object()  # new_order_row's default: the delivery our status implies


def delivery_of(status: OrderStatus) -> DeliveryStatus | None:
    """The delivery a status implies when no package says more."""
    if status is OrderStatus.CONFIRMED:
        return DeliveryStatus.PREPARING
    if status is OrderStatus.SHIPPED:
        return DeliveryStatus.SHIPPED
    if status is OrderStatus.DELIVERED:  # a report's "Delivered" carries no package
        return DeliveryStatus.DELIVERED
    return None


def new_order_row(
    order_id: str,
    status: OrderStatus,
    marketplace_status: str | None,
    *,
    marketplace_id: str | None,
    order_date: datetime,
    marketplace_updated_at: datetime,
    items: list[ItemRow],
    delivery_status: Any = _FROM_STATUS,
    **carried: Any,
) -> OrderRow:
    """An ``OrderRow`` from any source: the ref follows from the id, the delivery status
    from the status unless the source says it (``delivery_status``, None included);
    ``carried`` are the optional columns the source has."""
    return OrderRow(
        external_order_id=order_id,
        order_ref=order_ref(order_id),
        marketplace_id=marketplace_id,
        order_date=order_date,
        marketplace_updated_at=marketplace_updated_at,
        order_status=status,
        marketplace_status=marketplace_status,
        delivery_status=delivery_of(status) if delivery_status is _FROM_STATUS else delivery_status,
        items=items,
        **carried,
    )


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


# --- templated messages to a buyer (a connector's buyer messaging) --------------------------


class MessagingAction(StrEnum):
    """The templated messages a marketplace with buyer messaging sends for a seller."""

    CONFIRM_DELIVERY_DETAILS = "confirmDeliveryDetails"
    CONFIRM_ORDER_DETAILS = "confirmOrderDetails"
    CONFIRM_CUSTOMIZATION_DETAILS = "confirmCustomizationDetails"
    UNEXPECTED_PROBLEM = "unexpectedProblem"
    LEGAL_DISCLOSURE = "legalDisclosure"
    WARRANTY = "warranty"


class MessageBody(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """A message's body, as the messaging model names its fields (attachments: not used)."""

    text: str | None = None
    coverage_start_date: datetime | None = None  # warranty
    coverage_end_date: datetime | None = None  # warranty


# --- a marketplace's notifications of order changes -----------------------------------------


class MalformedNotification(ValueError):
    """Not an order change notification we can read: it goes to the dead-letter queue."""


class OrderChange(msgspec.Struct, frozen=True, kw_only=True):
    """One notification that an order changed: whose (the seller), which order, when, and
    the row its summary makes (what the summary lacks is fetched afterwards)."""

    notification_id: str
    seller_id: str
    order_id: str
    published_at: datetime  # the notification's own time
    changed_at: datetime  # when the order changed (else published_at)
    row: OrderRow


@dataclass(frozen=True)
class ChangeSubscription:
    """A seller's subscription to the marketplace's order change notifications."""

    subscription_id: str
    destination_id: str


# --- a window's bounds as text (jobs keep them as sent) --------------------------------------


def window_time(moment: datetime) -> str:
    """``2026-11-22T08:00:00Z``: ISO 8601 in UTC to the second, as order sources are sent
    a window's bounds; a naive moment is taken as UTC."""
    return times.as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_window_time(text: str) -> datetime:
    """A bound (``…Z`` or with an offset) as an aware datetime in UTC."""
    return times.as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


# --- what orders asks of a marketplace's order API (its ports, which an order feed's
# adapters and a shop API's order source implement) -----------------------------------------


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


class Marketplaces(Protocol):
    """A connected seller's marketplace (its credentials)."""

    async def marketplace_id(self, tenant_id: str, marketplace: str) -> str:
        """The order feed's marketplace id, or a shop API's shop id. One of the feed's
        ``not_connected``, or ``SourceRefused``, when the tenant has none (not connected,
        or gone)."""
        ...


class BuyerMessaging(Protocol):
    """The marketplace's templated messages to a buyer about an order (an order feed's
    ``messaging``, the adapter as it is)."""

    async def actions_for_order(
        self, tenant_id: str, order_id: str, marketplace_id: str
    ) -> list[str]: ...

    async def send(
        self,
        tenant_id: str,
        order_id: str,
        marketplace_id: str,
        action: MessagingAction,
        body: MessageBody,
    ) -> None: ...


class OrderChangeNotifications(Protocol):
    """The marketplace's notifications of order changes to our queue (an order feed's
    ``change_notifications``). Its failures are the marketplace's own: the consumers decide."""

    async def seller(self, tenant_id: str) -> tuple[str, str]:
        """The tenant's seller id and region."""
        ...

    async def destination(self, region: str) -> str:
        """Our queue's destination in the region: found, or created once."""
        ...

    async def subscription(self, tenant_id: str) -> ChangeSubscription | None: ...

    async def subscribe(self, tenant_id: str, destination_id: str) -> ChangeSubscription: ...

    async def unsubscribe(self, region: str, subscription_id: str) -> None: ...
