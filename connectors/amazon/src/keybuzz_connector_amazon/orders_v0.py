"""Orders API v0 (``shared/spapi-models/ordersV0.json``): ``getOrders`` and ``getOrderItems``.

The fallback when Amazon refuses Orders 2026-01-01 for a seller or an application.
A thin typed layer over :class:`~keybuzz_connector_amazon.spapi.SpApiClient` (tokens,
one bucket per (tenant, operation) at the model's plan: ``getOrders`` 0.0167/s
burst 20, ``getOrderItems`` 0.5/s burst 30, 429/5xx retries, typed errors).

What v0 gives differs from 2026-01-01: items need one ``getOrderItems`` call per
order (paginated by ``NextToken``), ``ItemPrice`` is the line's price (unit ×
quantity), and buyer data and the full address need a Restricted Data Token,
which we do not ask for: those fields are simply absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

import msgspec
from keybuzz_shared.mended import json_decoded

from keybuzz_connector_amazon.spapi import SpApiClient, UndecodableOrder

GET_ORDERS = "getOrders"
GET_ORDER_ITEMS = "getOrderItems"
ORDERS_V0_PATH = "/orders/v0/orders"


class _V0(msgspec.Struct, kw_only=True):
    pass


class V0Money(_V0):
    CurrencyCode: str  # noqa: N815 - Amazon's names (PascalCase in v0)
    Amount: Decimal  # noqa: N815


class V0Address(_V0, omit_defaults=True):
    Name: str | None = None
    AddressLine1: str | None = None
    City: str | None = None
    StateOrRegion: str | None = None
    PostalCode: str | None = None
    CountryCode: str | None = None
    Phone: str | None = None
    AddressType: str | None = None


class V0Order(_V0):
    AmazonOrderId: str
    PurchaseDate: datetime
    LastUpdateDate: datetime
    OrderStatus: str
    FulfillmentChannel: str | None = None
    MarketplaceId: str | None = None
    OrderTotal: V0Money | None = None
    LatestShipDate: datetime | None = None
    ShippingAddress: V0Address | None = None


class V0OrderItem(_V0):
    OrderItemId: str
    QuantityOrdered: int
    ASIN: str | None = None
    SellerSKU: str | None = None
    Title: str | None = None
    ItemPrice: V0Money | None = None  # the line's price: unit price × quantity


class _OrdersPayload(_V0):
    Orders: list[msgspec.Raw]
    NextToken: str | None = None
    CreatedBefore: datetime | None = None


class _OrdersBody(msgspec.Struct):
    payload: _OrdersPayload


class _ItemsPayload(_V0):
    AmazonOrderId: str
    OrderItems: list[V0OrderItem]
    NextToken: str | None = None


class _ItemsBody(msgspec.Struct):
    payload: _ItemsPayload


class _V0OrderIdOnly(msgspec.Struct):
    AmazonOrderId: str | None = None  # noqa: N815


@dataclass(frozen=True)
class V0OrdersPage:
    orders: list[V0Order]
    unreadable: list[UndecodableOrder]  # counted as errors by the caller, never a lost page
    next_token: str | None
    # Amazon's cursor: the listing is complete up to here (never the local clock).
    created_before: datetime | None
    rate_limit_waits: int


@dataclass(frozen=True)
class V0Items:
    items: list[V0OrderItem]
    rate_limit_waits: int


class OrdersV0Client:
    def __init__(self, spapi: SpApiClient) -> None:
        self.spapi = spapi

    async def get_orders(
        self,
        tenant_id: str,
        marketplace_id: str,
        created_after: str,
        *,
        next_token: str | None = None,
        max_results: int = 100,
    ) -> V0OrdersPage:
        """One page of orders created after ``created_after`` (no CreatedBefore: Amazon's)."""
        params = {"MarketplaceIds": marketplace_id}
        if next_token:
            params["NextToken"] = next_token  # the first request's filters travel in it
        else:
            params |= {"CreatedAfter": created_after, "MaxResultsPerPage": str(max_results)}
        body, waits = await self.spapi.request(
            tenant_id, GET_ORDERS, ORDERS_V0_PATH, _OrdersBody, params=params
        )
        orders, bad = _decode_orders(body.payload.Orders)
        return V0OrdersPage(orders, bad, body.payload.NextToken, body.payload.CreatedBefore, waits)

    async def get_order_items(self, tenant_id: str, order_id: str) -> V0Items:
        """All items of one order, following ``NextToken``."""
        path = f"{ORDERS_V0_PATH}/{quote(order_id, safe='')}/orderItems"
        items: list[V0OrderItem] = []
        waits = 0
        token: str | None = None
        while True:
            params = {"NextToken": token} if token else {}
            body, page_waits = await self.spapi.request(
                tenant_id, GET_ORDER_ITEMS, path, _ItemsBody, params=params
            )
            items.extend(body.payload.OrderItems)
            waits += page_waits
            token = body.payload.NextToken
            if not token:
                return V0Items(items, waits)


def _decode_orders(raws: list[msgspec.Raw]) -> tuple[list[V0Order], list[UndecodableOrder]]:
    orders: list[V0Order] = []
    bad: list[UndecodableOrder] = []
    for raw in raws:
        try:
            orders.append(json_decoded(raw, V0Order))
        except msgspec.DecodeError as exc:
            try:
                order_id = json_decoded(raw, _V0OrderIdOnly).AmazonOrderId
            except msgspec.DecodeError:
                order_id = None
            bad.append(UndecodableOrder(order_id, str(exc)[:200]))
    return orders, bad
