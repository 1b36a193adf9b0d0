"""Amazon's order feed: the orders service's adapters on SP-API (the part
``AmazonConnector.order_feed``). Orders 2026-01-01 (``searchOrders``, ``getOrder``) is the
order source, Orders v0 the listing a backfill falls back to, the Reports API the bulk
export, the Messaging API the buyer messages, the Notifications API the ORDER_CHANGE
subscriptions. Amazon's failures become the orders ports' (``SourceError``): an outage
stays an outage. The types are the seam's (``keybuzz_shared.connectors.orders``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from keybuzz_shared.connectors.orders import (
    AccessDenied,
    ChangeSubscription,
    FetchedOrders,
    NotFound,
    OrderChange,
    OrderRow,
    OrderWindow,
    QueryRefused,
    ReportOrders,
    ReportStage,
    ReportStatus,
    SourceError,
    SourcePage,
    SourceRefused,
    SourceUnavailable,
    UnreadableOrder,
    each_order,
)
from keybuzz_shared.errors import is_outage
from keybuzz_shared.vault import VaultClient

from keybuzz_connector_amazon.credentials import load_tenant_credentials
from keybuzz_connector_amazon.errors import (
    AmazonAuthError,
    CredentialsMissing,
    LwaError,
    ReauthRequired,
)
from keybuzz_connector_amazon.ids import amazon_order_ids_in, is_amazon_order_id
from keybuzz_connector_amazon.lwa import LwaClient
from keybuzz_connector_amazon.messaging import (
    TEXT_MAX_LENGTH,
    MessagingActionNotAllowed,
    MessagingClient,
)
from keybuzz_connector_amazon.notifications import GrantlessTokens, NotificationsClient
from keybuzz_connector_amazon.order_changes import order_change
from keybuzz_connector_amazon.order_rows import order_row, report_order_row, v0_order_row
from keybuzz_connector_amazon.orders_v0 import OrdersV0Client
from keybuzz_connector_amazon.reports import (
    FAILED_STATUSES,
    ORDERS_BY_ORDER_DATE,
    ReportsClient,
)
from keybuzz_connector_amazon.spapi import (
    SearchOrdersQuery,
    SpApiAccessDenied,
    SpApiClient,
    SpApiError,
    SpApiInvalidInput,
    SpApiNotFound,
    SpApiOutcomeUnknown,
)
from keybuzz_connector_amazon.times import amazon_time
from keybuzz_connector_amazon.tokens import amazon_settings, token_service_for

if TYPE_CHECKING:
    from keybuzz_shared.connectors.seam import FeedContext


class AmazonOrderIds:
    """Amazon's order ids: 3-7-7 digits."""

    described = "an Amazon order id (3-7-7 digits)"

    def is_order_id(self, value: str) -> bool:
        return is_amazon_order_id(value)

    def order_ids_in(self, text: str) -> list[str]:
        return amazon_order_ids_in(text)


def source_error(exc: AmazonAuthError | SpApiError) -> SourceError:
    """Amazon's failure as the ports': its message (never a secret), its kind."""
    message = str(exc)
    code = f"HTTP {exc.status} {exc.code}" if isinstance(exc, SpApiError) else type(exc).__name__
    kind: type[SourceError] = SourceRefused  # credentials missing or revoked, another refusal
    if is_outage(exc):  # SP-API or LWA down, throttled past the retries
        kind = SourceUnavailable
    elif isinstance(exc, SpApiAccessDenied):
        kind = AccessDenied
    elif isinstance(exc, SpApiNotFound):
        kind = NotFound
    elif isinstance(exc, SpApiInvalidInput):
        kind = QueryRefused
    return kind(message, code)


@contextlib.contextmanager
def amazon_failures() -> Iterator[None]:
    try:
        yield
    except (AmazonAuthError, SpApiError) as exc:
        raise source_error(exc) from exc


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else amazon_time(moment)


def _last_second_in(end: datetime) -> datetime:
    """A window's end as Amazon is sent it: its creation bounds are inclusive and its times
    whole seconds, so a second less keeps the window ``[start, end)`` half-open (an order
    created at ``end`` is the next window's)."""
    return end - timedelta(seconds=1)


class SpApiOrderSource:
    """``OrderSource`` on Orders 2026-01-01: a window is ``searchOrders`` (items inline),
    an order is ``getOrder``."""

    def __init__(self, spapi: SpApiClient) -> None:
        self.spapi = spapi

    async def orders_in_window(self, tenant_id: str, window: OrderWindow) -> SourcePage:
        query = SearchOrdersQuery(
            marketplace_ids=[window.marketplace_id],
            created_after=_time(window.created_after),
            created_before=_time(window.created_before and _last_second_in(window.created_before)),
            last_updated_after=_time(window.updated_after),
            max_results_per_page=window.page_size,
            pagination_token=window.page_token,
        )
        with amazon_failures():
            page = await self.spapi.search_orders(tenant_id, query)
        orders, bad = page.decode_orders()
        return SourcePage(
            orders=[order_row(o) for o in orders],
            next_token=page.next_token,
            created_before=page.created_before,
            updated_before=page.last_updated_before,
            unreadable=[UnreadableOrder(b.order_id, b.reason) for b in bad],
            rate_limit_waits=page.rate_limit_waits,
        )

    async def order(self, tenant_id: str, order_id: str) -> OrderRow:
        with amazon_failures():
            return order_row(await self.spapi.get_order(tenant_id, order_id))

    async def orders_by_ids(self, tenant_id: str, order_ids: Sequence[str]) -> FetchedOrders:
        """``getOrder`` each (searchOrders takes no ids), at its rate."""
        return await each_order(self.order, tenant_id, order_ids)


class OrdersV0Listing:
    """``OrderListing`` on Orders v0, for a seller whose searchOrders is refused to us:
    ``getOrders`` pages, then each order's items (``getOrderItems``: v0 has none inline).
    Its rows are partial (no buyer, no packages)."""

    def __init__(self, spapi: SpApiClient) -> None:
        self.v0 = OrdersV0Client(spapi)

    async def orders_in_window(self, tenant_id: str, window: OrderWindow) -> SourcePage:
        assert window.created_after is not None  # v0 lists by creation only
        with amazon_failures():
            page = await self.v0.get_orders(
                tenant_id,
                window.marketplace_id,
                amazon_time(window.created_after),
                next_token=window.page_token,
                max_results=window.page_size,
            )
            waits, rows = page.rate_limit_waits, []
            for order in page.orders:
                items = await self.v0.get_order_items(tenant_id, order.AmazonOrderId)
                waits += items.rate_limit_waits
                rows.append(v0_order_row(order, items.items))
        return SourcePage(
            orders=rows,
            next_token=page.next_token,
            created_before=page.created_before,
            unreadable=[UnreadableOrder(u.order_id, u.reason) for u in page.unreadable],
            rate_limit_waits=waits,
            partial=True,
        )


class SpApiOrderReports:
    """``OrderReports`` on the Reports API: one order report per window
    (``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL``), its lines grouped by order."""

    def __init__(self, spapi: SpApiClient) -> None:
        self.reports = ReportsClient(spapi)

    async def request(
        self, tenant_id: str, marketplace_id: str, start: datetime, end: datetime
    ) -> tuple[str, int]:
        with amazon_failures():
            reply = await self.reports.create_report(
                tenant_id, ORDERS_BY_ORDER_DATE, [marketplace_id], start, _last_second_in(end)
            )
        return reply.value, reply.rate_limit_waits

    async def status(self, tenant_id: str, report_id: str) -> ReportStatus:
        with amazon_failures():
            reply = await self.reports.get_report(tenant_id, report_id)
        report = reply.value
        stage = ReportStage.PENDING
        if report.processing_status == "DONE" and report.report_document_id:
            stage = ReportStage.DONE
        elif report.processing_status in FAILED_STATUSES:
            stage = ReportStage.FAILED
        return ReportStatus(
            stage, report.processing_status, report.report_document_id, reply.rate_limit_waits
        )

    async def orders(self, tenant_id: str, document_id: str, marketplace_id: str) -> ReportOrders:
        with amazon_failures():
            reply = await self.reports.get_report_document(tenant_id, document_id)
        lines = self.reports.rows(reply.value)
        return ReportOrders(_report_rows(lines, marketplace_id), reply.rate_limit_waits)


async def _report_rows(
    lines: AsyncIterator[dict[str, str]], marketplace_id: str
) -> AsyncIterator[OrderRow | UnreadableOrder]:
    async for order_lines in _orders_of(lines):
        try:
            yield report_order_row(order_lines, marketplace_id)
        except ValueError as exc:  # ReportLineError among them
            yield UnreadableOrder(order_lines[0].get("amazon-order-id"), str(exc)[:200])


async def _orders_of(
    rows: AsyncIterator[dict[str, str]],
) -> AsyncIterator[list[dict[str, str]]]:
    """Item lines grouped by order: Amazon writes an order's lines one after another."""
    current: list[dict[str, str]] = []
    async for row in rows:
        if current and row.get("amazon-order-id") != current[0].get("amazon-order-id"):
            yield current
            current = []
        current.append(row)
    if current:
        yield current


class VaultMarketplaces:
    """orders' ``Marketplaces``: the seller's marketplace id, from its credentials in Vault
    (``CredentialsMissing`` when the tenant has none)."""

    def __init__(self, vault: VaultClient) -> None:
        self.vault = vault

    async def marketplace_id(self, tenant_id: str, marketplace: str) -> str:
        return (await load_tenant_credentials(self.vault, tenant_id)).marketplace_id


class SpApiOrderChanges:
    """orders' ``OrderChangeNotifications`` on Amazon's Notifications API, to the queue
    whose ARN ``queue_arn`` gives (read once)."""

    def __init__(
        self,
        context: FeedContext,
        spapi: SpApiClient,
        queue_arn: Callable[[], Awaitable[str]],
    ) -> None:
        self.settings = context.settings
        amazon = amazon_settings(context)
        self._arn = queue_arn
        tokens = GrantlessTokens(
            context.vault,
            LwaClient(amazon.lwa_endpoint, cacert=amazon.lwa_cacert),
            app_source=amazon.amazon_app_source,
        )
        self.api = NotificationsClient(
            spapi,
            tokens,
            endpoint=amazon.spapi_endpoint,
            initial_backoff=self.settings.spapi_backoff_seconds,
        )
        self._queue_arn: str | None = None
        self._destinations: dict[str, str] = {}  # region -> destination id

    async def aclose(self) -> None:
        await self.api.aclose()

    async def seller(self, tenant_id: str) -> tuple[str, str]:
        access = await self.api.sellers.tokens.access_token(tenant_id)
        return access.seller_id, access.region

    async def destination(self, region: str) -> str:
        if region not in self._destinations:
            name = f"keybuzz-orders-{self.settings.keybuzz_env}"
            arn = await self.queue_arn()
            self._destinations[region] = await self.api.ensure_destination(region, name, arn)
        return self._destinations[region]

    async def subscription(self, tenant_id: str) -> ChangeSubscription | None:
        found = await self.api.subscription(tenant_id)
        return (
            None
            if found is None
            else ChangeSubscription(found.subscription_id, found.destination_id)
        )

    async def subscribe(self, tenant_id: str, destination_id: str) -> ChangeSubscription:
        made = await self.api.subscribe(tenant_id, destination_id)
        return ChangeSubscription(made.subscription_id, made.destination_id)

    async def unsubscribe(self, region: str, subscription_id: str) -> None:
        await self.api.delete_subscription(region, subscription_id)

    async def queue_arn(self) -> str:
        if self._queue_arn is None:
            self._queue_arn = await self._arn()
        return self._queue_arn


# Amazon's refusals of a messaging action: Amazon's code and message go to the caller.
REFUSAL_STATUSES: dict[type[Exception], int] = {
    MessagingActionNotAllowed: 409,  # the order's state does not allow it (now)
    SpApiInvalidInput: 400,  # e.g. text Amazon does not accept
    SpApiNotFound: 404,  # Amazon does not know the order for this seller
    SpApiAccessDenied: 502,  # our access (role, token) is refused: not the caller's fault
    SpApiOutcomeUnknown: 502,  # sent, answer lost: not repeated (no duplicate message)
}


class OpenedAmazonFeed:
    """The adapters of one process, on one SP-API client (closed at shutdown)."""

    def __init__(self, context: FeedContext) -> None:
        settings = context.settings
        self.context = context
        self.spapi = SpApiClient(
            token_service_for(context),
            endpoint=amazon_settings(context).spapi_endpoint,
            initial_backoff=settings.spapi_backoff_seconds,
        )
        self.source = SpApiOrderSource(self.spapi)
        self.fallback = OrdersV0Listing(self.spapi)
        self.reports = SpApiOrderReports(self.spapi)
        self.marketplaces = VaultMarketplaces(context.vault)
        self.messaging = MessagingClient(self.spapi)
        self._changes: SpApiOrderChanges | None = None

    def change_notifications(self, queue_arn: Callable[[], Awaitable[str]]) -> SpApiOrderChanges:
        self._changes = SpApiOrderChanges(self.context, self.spapi, queue_arn)
        return self._changes

    @property
    def components(self) -> tuple[object, ...]:
        return (self.spapi,) if self._changes is None else (self.spapi, self._changes)

    async def aclose(self) -> None:
        if self._changes is not None:
            await self._changes.aclose()
        await self.spapi.aclose()


class AmazonOrderFeed:
    """``seam.OrderFeed`` on SP-API."""

    error_statuses: dict[type[Exception], int] = {
        # Not connected (or the credentials are gone from Vault): connect Amazon first.
        CredentialsMissing: 409,
    }
    messaging_error_statuses: dict[type[Exception], int] = {
        CredentialsMissing: 409,
        ReauthRequired: 409,  # the seller revoked us: connect Amazon again
        LwaError: 502,
    }
    refusal_statuses = REFUSAL_STATUSES
    text_max_length = TEXT_MAX_LENGTH
    outage_or_refusal: tuple[type[Exception], ...] = (AmazonAuthError, SpApiError)
    not_connected: tuple[type[Exception], ...] = (CredentialsMissing,)

    def refusal(self, exc: Exception) -> tuple[str, dict[str, object]]:
        assert isinstance(exc, SpApiError)
        details = {"amazonCode": exc.code, "amazonMessage": exc.message, "amazonStatus": exc.status}
        return f"Amazon refused {exc.operation}: {exc.message}", details

    def read_change(self, body: str | bytes) -> OrderChange:
        return order_change(body)

    def open(self, context: FeedContext, http: httpx.AsyncClient) -> OpenedAmazonFeed:
        return OpenedAmazonFeed(context)
