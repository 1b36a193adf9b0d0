"""Orders API v0: getOrders, getOrder, getOrderItems (what our connector and its tests call:
no Restricted Data Token, so no buyer and only where the parcel goes)."""

from __future__ import annotations

import msgspec
from keybuzz_sandbox.clock import iso
from keybuzz_sandbox.double_kit.model_structs import model_structs

from .errors import invalid_input
from .listing import (
    V0_NAMES,
    amount,
    check_marketplaces,
    check_page_size,
    find_order,
    line_cents,
    open_page,
    order_total_cents,
    seal_page,
    vat_part,
    watermark,
    windows,
)
from .models import model_document
from .order_book import OrderBook, OrderQuery, OrderState
from .seed import ItemFacts
from .spapi import CallContext, Reply

ITEMS_PAGE_SIZE = 20
# Values every seeded order shares (no COD, no replacements, no regulated items...).
_ORDER_CONSTANTS: dict[str, object] = {
    "PaymentMethod": "Other",
    "PaymentMethodDetails": ["Standard"],
    "OrderType": "StandardOrder",
    "IsPremiumOrder": False,
    "IsGlobalExpressEnabled": False,
    "IsReplacementOrder": False,
    "IsSoldByAB": False,
    "IsISPU": False,
    "IsAccessPointOrder": False,
    "HasRegulatedItems": False,
}
_ITEM_CONSTANTS: dict[str, object] = {
    "ConditionId": "New",
    "ConditionSubtypeId": "New",
    "IsTransparency": False,
    "SerialNumberRequired": False,
}
# Amazon's own filter values no seeded order carries (no Easy Ship, e-invoicing, ISPU or COD/CVS).
_NEVER_MATCHING = (
    "EasyShipShipmentStatuses",
    "ElectronicInvoiceStatuses",
    "ActualFulfillmentSupplySourceId",
    "StoreChainStoreId",
)


# The answers' structs are the model's own definitions (every field it names, none other).
Money, Address, AutomatedShippingSettings, Order, ProductInfo, OrderItem = model_structs(
    model_document("ordersV0")["definitions"],
    "Money",
    "Address",
    "AutomatedShippingSettings",
    "Order",
    "ProductInfoDetail",
    "OrderItem",
)


class ItemsPage(msgspec.Struct):
    order_id: str
    offset: int


# --- rendering ---------------------------------------------------------------


def _money(book: OrderBook, cents: int) -> msgspec.Struct:
    return Money(CurrencyCode=book.gen.marketplace.currency, Amount=amount(cents))


# Statuses whose orders carry a ShippingAddress (model, Order.ShippingAddress).
ADDRESS_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"})


def render_address(state: OrderState) -> msgspec.Struct | None:
    """Without a Restricted Data Token Amazon still shows where the parcel goes, not to whom."""
    if state.status not in ADDRESS_STATUSES:
        return None
    a = state.facts.address
    return Address(
        City=a.city, StateOrRegion=a.state, PostalCode=a.postal_code, CountryCode=a.country_code
    )


def render_order(book: OrderBook, state: OrderState) -> msgspec.Struct:
    facts, market = state.facts, book.gen.marketplace
    quantity = sum(state.quantity(i.quantity) for i in facts.items)
    shipped = quantity if state.status == "Shipped" else 0
    win = windows(book, state)
    visible = state.status not in ("Pending", "Canceled")  # no totals before payment
    return Order(
        **_ORDER_CONSTANTS,
        AmazonOrderId=facts.order_id,
        SellerOrderId=facts.order_id,
        PurchaseDate=iso(state.purchase_date),
        LastUpdateDate=iso(state.last_update),
        OrderStatus=state.status,
        FulfillmentChannel=facts.timeline.channel,
        SalesChannel=market.name,
        ShipServiceLevel=facts.ship_service_level,
        OrderTotal=_money(book, order_total_cents(state)) if visible else None,
        NumberOfItemsShipped=shipped,
        NumberOfItemsUnshipped=quantity - shipped,
        MarketplaceId=market.id,
        ShipmentServiceLevelCategory="Expedited"
        if facts.ship_service_level.startswith("Exp")
        else "Standard",
        EarliestShipDate=iso(win.earliest_ship),
        LatestShipDate=iso(win.latest_ship),
        EarliestDeliveryDate=iso(win.earliest_delivery),
        LatestDeliveryDate=iso(win.latest_delivery),
        IsBusinessOrder=facts.is_business,
        IsPrime=facts.is_prime,
        ShippingAddress=render_address(state),
        AutomatedShippingSettings=AutomatedShippingSettings(HasAutomatedShippingSettings=False),
    )


def render_item(book: OrderBook, state: OrderState, item: ItemFacts) -> msgspec.Struct:
    quantity = state.quantity(item.quantity)
    # Pending: no pricing, taxes, shipping charges, gift status or promotions
    # (getOrderItems' description); cancelled items carry no prices either.
    priced = state.status not in ("Pending", "Canceled")
    pending = state.status == "Pending"
    vat = book.gen.marketplace.vat_rate
    zero = _money(book, 0)
    return OrderItem(
        **_ITEM_CONSTANTS,
        ASIN=item.product.asin,
        SellerSKU=item.product.sku,
        OrderItemId=item.order_item_id,
        Title=item.product.title,
        QuantityOrdered=quantity,
        QuantityShipped=quantity if state.status == "Shipped" else 0,
        ProductInfo=ProductInfo(NumberOfItems="1"),
        ItemPrice=_money(book, line_cents(item)) if priced else None,
        ItemTax=_money(book, vat_part(line_cents(item), vat)) if priced else None,
        ShippingPrice=_money(book, item.shipping_cents) if priced else None,
        ShippingTax=_money(book, vat_part(item.shipping_cents, vat)) if priced else None,
        PromotionDiscount=zero if priced else None,
        PromotionDiscountTax=zero if priced else None,
        PromotionIds=None if pending else [],
        IsGift=None if pending else "false",
    )


# --- operations ----------------------------------------------------------------


# The model: with SellerOrderId these "cannot be specified".
_NOT_WITH_SELLER_ORDER_ID = (
    "FulfillmentChannels",
    "OrderStatuses",
    "PaymentMethods",
    "LastUpdatedAfter",
    "LastUpdatedBefore",
    "BuyerEmail",
)


def _check_seller_order_id(q: dict[str, object]) -> None:
    clash = [name for name in _NOT_WITH_SELLER_ORDER_ID if name in q]
    if clash:
        raise invalid_input(f"SellerOrderId cannot be combined with {', '.join(clash)}.")


def _listing(ctx: CallContext, book: OrderBook) -> OrderQuery:
    q = ctx.query
    query = ctx.window(V0_NAMES, required="AmazonOrderIds" not in q)
    page_size = check_page_size(q.get("MaxResultsPerPage"), "MaxResultsPerPage")
    reachable = check_marketplaces(q["MarketplaceIds"], book)
    if "SellerOrderId" in q:
        _check_seller_order_id(q)
        # Sellers without their own ids get SellerOrderId == AmazonOrderId.
        return msgspec.structs.replace(
            query,
            order_ids=[q["SellerOrderId"]],
            matches_nothing=not reachable,
            page_size=page_size,
        )
    never = (
        any(name in q for name in _NEVER_MATCHING)
        or any(m != "Other" for m in q.get("PaymentMethods", []))
        or q.get("IsISPU") is True
    )
    return msgspec.structs.replace(
        query,
        statuses=q.get("OrderStatuses"),
        channels=q.get("FulfillmentChannels"),
        order_ids=q.get("AmazonOrderIds"),
        buyer_email=q.get("BuyerEmail"),
        matches_nothing=not reachable or never,
        page_size=page_size,
    )


async def get_orders(ctx: CallContext) -> Reply:
    book = ctx.book()
    token = ctx.query.get("NextToken")
    query = (
        open_page(ctx.sandbox.signer, token, OrderQuery, "NextToken", ctx.now)
        if token
        else _listing(ctx, book)
    )
    states, following = book.page(query)
    payload: dict[str, object] = {"Orders": [render_order(book, s) for s in states]}
    if following is not None:
        payload["NextToken"] = seal_page(ctx.sandbox.signer, following, ctx.now)
    return Reply({"payload": payload | watermark(query, V0_NAMES)})


def _order(ctx: CallContext) -> tuple[OrderBook, OrderState]:
    book = ctx.book()
    return book, find_order(book, ctx.path_params["orderId"], ctx.now)


async def get_order(ctx: CallContext) -> Reply:
    book, state = _order(ctx)
    return Reply({"payload": render_order(book, state)})


async def get_order_items(ctx: CallContext) -> Reply:
    book, state = _order(ctx)
    token = ctx.query.get("NextToken")
    offset = 0
    if token:
        page = open_page(ctx.sandbox.signer, token, ItemsPage, "NextToken", ctx.now)
        if page.order_id != state.order_id:
            raise invalid_input("Invalid NextToken.")
        offset = page.offset
    items = state.facts.items[offset : offset + ITEMS_PAGE_SIZE]
    payload: dict[str, object] = {
        "AmazonOrderId": state.order_id,
        "OrderItems": [render_item(book, state, item) for item in items],
    }
    if offset + ITEMS_PAGE_SIZE < len(state.facts.items):
        payload["NextToken"] = seal_page(
            ctx.sandbox.signer, ItemsPage(state.order_id, offset + ITEMS_PAGE_SIZE), ctx.now
        )
    return Reply({"payload": payload})


IMPLEMENTATIONS = {
    "ordersV0.getOrders": get_orders,
    "ordersV0.getOrder": get_order,
    "ordersV0.getOrderItems": get_order_items,
}
