"""The marketplace's adapters of orders' ports: ``order_source.OrderSource`` over Amazon's
SP-API client (``searchOrders``, ``getOrder``), the Orders v0 listing a backfill falls back
to, and ``ports.Marketplaces`` from the tenants' credentials in Vault. Amazon's failures
become the port's (``order_source.SourceError``): an outage stays an outage."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime

from keybuzz_shared.amazon import (
    AmazonAuthError,
    SearchOrdersQuery,
    SpApiClient,
    SpApiError,
    SpApiInvalidInput,
    load_tenant_credentials,
)
from keybuzz_shared.amazon.spapi import SpApiAccessDenied, SpApiNotFound
from keybuzz_shared.amazon.times import amazon_time
from keybuzz_shared.errors import is_outage
from keybuzz_shared.vault import VaultClient

from keybuzz_orders.domain import OrderRow, order_row
from keybuzz_orders.order_source import (
    AccessDenied,
    FetchedOrders,
    NotFound,
    OrderWindow,
    QueryRefused,
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
    if is_outage(exc):  # SP-API or LWA down, throttled past the retries
        return SourceUnavailable(message)
    if isinstance(exc, SpApiAccessDenied):
        return AccessDenied(message)
    if isinstance(exc, SpApiNotFound):
        return NotFound(message)
    if isinstance(exc, SpApiInvalidInput):
        return QueryRefused(message)
    return SourceRefused(message)  # credentials missing or revoked, another refusal


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


class VaultMarketplaces:
    """``ports.Marketplaces`` from the tenants' credentials in Vault."""

    def __init__(self, vault: VaultClient) -> None:
        self.vault = vault

    async def marketplace_id(self, tenant_id: str) -> str:
        return (await load_tenant_credentials(self.vault, tenant_id)).marketplace_id
