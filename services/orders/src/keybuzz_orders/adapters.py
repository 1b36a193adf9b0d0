"""The marketplace's adapters of orders' ports: ``order_source.OrderSource`` over Amazon's
SP-API client (``searchOrders``, ``getOrder``), the Orders v0 listing a backfill falls back
to, and ``ports.Marketplaces`` from the tenants' credentials in Vault. Amazon's failures
become the port's (``order_source.SourceError``): an outage stays an outage."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime

from keybuzz_shared.connectors.amazon import (
    AmazonAuthError,
    SearchOrdersQuery,
    SpApiClient,
    SpApiError,
    SpApiInvalidInput,
    load_tenant_credentials,
)
from keybuzz_shared.connectors.amazon.orders_v0 import OrdersV0Client
from keybuzz_shared.connectors.amazon.reports import (
    FAILED_STATUSES,
    ORDERS_BY_ORDER_DATE,
    ReportsClient,
)
from keybuzz_shared.connectors.amazon.spapi import SpApiAccessDenied, SpApiNotFound
from keybuzz_shared.connectors.amazon.times import amazon_time
from keybuzz_shared.connectors.names import AMAZON
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.errors import is_outage
from keybuzz_shared.vault import VaultClient

from keybuzz_orders.connector_source import ShopKeyRefused
from keybuzz_orders.domain import (
    OrderRow,
    ReportLineError,
    order_row,
    report_order_row,
    v0_order_row,
)
from keybuzz_orders.order_source import (
    AccessDenied,
    FetchedOrders,
    NotFound,
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


def source_error(exc: AmazonAuthError | SpApiError) -> SourceError:
    """Amazon's failure as the port's: its message (never a secret), its kind."""
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


class SpApiOrderSource:
    """``OrderSource`` on Orders 2026-01-01: a window is ``searchOrders`` (items inline),
    an order is ``getOrder``."""

    def __init__(self, spapi: SpApiClient) -> None:
        self.spapi = spapi

    async def orders_in_window(self, tenant_id: str, window: OrderWindow) -> SourcePage:
        query = SearchOrdersQuery(
            marketplace_ids=[window.marketplace_id],
            created_after=_time(window.created_after),
            created_before=_time(window.created_before),
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
                tenant_id, ORDERS_BY_ORDER_DATE, [marketplace_id], start, end
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
        except (ReportLineError, ValueError) as exc:
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
    """``ports.Marketplaces`` from the tenants' credentials in Vault: Amazon's marketplace
    id, or the shop id of a marketplace behind the connector seam."""

    def __init__(self, vault: VaultClient) -> None:
        self.vault = vault

    async def marketplace_id(self, tenant_id: str, marketplace: str = AMAZON) -> str:
        if marketplace == AMAZON:
            return (await load_tenant_credentials(self.vault, tenant_id)).marketplace_id
        stored = await self.vault.read(connector_for(marketplace).credentials_path(tenant_id))
        if not stored or not stored.get("shop_id"):
            raise ShopKeyRefused(f"no {marketplace} key is stored for the shop")
        return str(stored["shop_id"])
