"""Orders v0 (no Restricted Data Token: no buyer, only where the parcel goes) and Orders
2026-01-01, two shapes of one listing (order_book.py, listing.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from keybuzz_sandbox.clock import iso
from keybuzz_sandbox.double_kit.model_structs import model_structs

from .errors import invalid_input
from .listing import (
    amount,
    check_marketplaces,
    check_page_size,
    line_cents,
    order_total_cents,
    vat_part,
    windows,
)
from .models import model_document
from .order_book import OrderBook, OrderQuery, OrderState
from .seed import ItemFacts
from .spapi import Answer, CallContext

# --- the date windows both listings read ---------------------------------------

FRESHNESS_LAG = 120.0  # Amazon seconds: "...Before" must be at least two minutes before now


class WindowNames(msgspec.Struct, frozen=True):
    """One API's spelling of the four date filters."""

    created_after: str
    created_before: str
    updated_after: str
    updated_before: str


V0_NAMES = WindowNames("CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore")
V2026_NAMES = WindowNames("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")


def window_query(ctx: CallContext, names: WindowNames, required: bool) -> OrderQuery:
    """The listing of the call's date filters, checked as the models' descriptions state
    (a "...Before" at least two minutes before the request); the orders as they stood the
    settings' listing lag ago."""
    query, now, clock = ctx.query, ctx.now, ctx.sandbox.clock
    min_gap = clock.real_duration(FRESHNESS_LAG)
    lag = clock.real_duration(ctx.sandbox.settings.listing_lag_seconds)
    by: dict[str, Any] = {
        field: query.get(getattr(names, field)) for field in WindowNames.__struct_fields__
    }
    pairs = (
        (names.created_after, names.created_before),
        (names.updated_after, names.updated_before),
    )
    given = [(a, b) for a, b in pairs if query.get(a) is not None or query.get(b) is not None]
    if len(given) == 2:
        raise invalid_input(f"{'/'.join(pairs[0])} cannot be combined with {'/'.join(pairs[1])}.")
    if required and by["created_after"] is None and by["updated_after"] is None:
        raise invalid_input(f"Either {pairs[0][0]} or {pairs[1][0]} must be specified.")
    for after, before in given:  # one pair at most
        start, end = query.get(after), query.get(before)
        if end is not None and end > now - min_gap:
            raise invalid_input(
                f"{before} must be at least two minutes before the time of the request."
            )
        if start is not None and start > now:
            raise invalid_input(f"{after} cannot be in the future.")
        if start is not None and end is not None and end < start:
            raise invalid_input(f"{before} must be equal to or after {after}.")
    return OrderQuery(snapshot=now - lag, **by)


def watermark(query: OrderQuery, names: WindowNames) -> dict[str, str]:
    """The '...Before' the answer reports, by the API's name: the listing's upper bound."""
    # Never later than what the listing could see: that is the safe next cursor.
    if query.updated_after is not None or query.updated_before is not None:
        name, bound = names.updated_before, query.updated_before
    elif query.created_after is not None or query.created_before is not None:
        name, bound = names.created_before, query.created_before
    else:
        return {}
    return {name: iso(min(bound or query.snapshot, query.snapshot))}


# --- Orders v0 -----------------------------------------------------------------

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


def _money(book: OrderBook, cents: int) -> msgspec.Struct:
    return Money(CurrencyCode=book.gen.marketplace.currency, Amount=amount(cents))


# Statuses whose orders carry a ShippingAddress (model, Order.ShippingAddress).
ADDRESS_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"})


def render_order(book: OrderBook, state: OrderState) -> msgspec.Struct:
    facts, market = state.facts, book.gen.marketplace
    quantity = sum(state.quantity(i.quantity) for i in facts.items)
    shipped = quantity if state.status == "Shipped" else 0
    win = windows(book, state)
    visible = state.status not in ("Pending", "Canceled")  # no totals before payment
    a = facts.address  # without a Restricted Data Token: where the parcel goes, not to whom
    address = Address(
        City=a.city, StateOrRegion=a.state, PostalCode=a.postal_code, CountryCode=a.country_code
    )
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
        ShipmentServiceLevelCategory=facts.service_category,
        EarliestShipDate=iso(win.earliest_ship),
        LatestShipDate=iso(win.latest_ship),
        EarliestDeliveryDate=iso(win.earliest_delivery),
        LatestDeliveryDate=iso(win.latest_delivery),
        IsBusinessOrder=facts.is_business,
        IsPrime=facts.is_prime,
        ShippingAddress=address if state.status in ADDRESS_STATUSES else None,
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


# The model: with SellerOrderId these "cannot be specified".
_NOT_WITH_SELLER_ORDER_ID = (
    "FulfillmentChannels",
    "OrderStatuses",
    "PaymentMethods",
    "LastUpdatedAfter",
    "LastUpdatedBefore",
    "BuyerEmail",
)


def _v0_listing(ctx: CallContext, book: OrderBook) -> OrderQuery:
    q = ctx.query
    query = window_query(ctx, V0_NAMES, required="AmazonOrderIds" not in q)
    query.page_size = check_page_size(q.get("MaxResultsPerPage"), "MaxResultsPerPage")
    reachable = check_marketplaces(q["MarketplaceIds"], book)
    if "SellerOrderId" in q:
        if clash := [name for name in _NOT_WITH_SELLER_ORDER_ID if name in q]:
            raise invalid_input(f"SellerOrderId cannot be combined with {', '.join(clash)}.")
        # Sellers without their own ids get SellerOrderId == AmazonOrderId.
        return msgspec.structs.replace(
            query,
            order_ids=[q["SellerOrderId"]],
            matches_nothing=not reachable,
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
    )


async def get_orders(ctx: CallContext) -> Answer:
    book = ctx.book()
    token = ctx.query.get("NextToken")
    query = (
        ctx.sandbox.signer.open_page(token, OrderQuery, "NextToken", ctx.now)
        if token
        else _v0_listing(ctx, book)
    )
    states, following = book.page(query)
    payload: dict[str, object] = {"Orders": [render_order(book, s) for s in states]}
    if following is not None:
        payload["NextToken"] = ctx.sandbox.signer.seal_page(following, ctx.now)
    return Answer(200, {"payload": payload | watermark(query, V0_NAMES)})


async def get_order_v0(ctx: CallContext) -> Answer:
    book, state = ctx.order("orderId")
    return Answer(200, {"payload": render_order(book, state)})


async def get_order_items(ctx: CallContext) -> Answer:
    book, state = ctx.order("orderId")
    token = ctx.query.get("NextToken")
    offset = 0
    if token:
        page = ctx.sandbox.signer.open_page(token, ItemsPage, "NextToken", ctx.now)
        if page.order_id != state.order_id:
            raise invalid_input("Invalid NextToken.")
        offset = page.offset
    items = state.facts.items[offset : offset + ITEMS_PAGE_SIZE]
    payload: dict[str, object] = {
        "AmazonOrderId": state.order_id,
        "OrderItems": [render_item(book, state, item) for item in items],
    }
    if offset + ITEMS_PAGE_SIZE < len(state.facts.items):
        payload["NextToken"] = ctx.sandbox.signer.seal_page(
            ItemsPage(state.order_id, offset + ITEMS_PAGE_SIZE), ctx.now
        )
    return Answer(200, {"payload": payload})


# --- Orders 2026-01-01 -----------------------------------------------------------

STATUS = {
    "Pending": "PENDING",
    "Unshipped": "UNSHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
}
FROM_STATUS = {v: k for k, v in STATUS.items()}
CHANNEL = {"MFN": "MERCHANT", "AFN": "AMAZON"}
FROM_CHANNEL = {v: k for k, v in CHANNEL.items()}
# No Restricted Data Token in this API: the application's roles decide what PII it shows,
# for orders in these (v0-vocabulary) statuses.
D2C_SHIPPING = "direct-to-consumer-shipping"
TAX_ROLES = frozenset({"tax-invoicing", "tax-remittance"})
PII_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped"})


# The model's own definitions (every field it names, none other).
Money2026, DateTimeRange = model_structs(
    model_document("orders2026")["definitions"], "Money", "DateTimeRange"
)


class Renderer(msgspec.Struct, kw_only=True):
    """Renders one seller's orders in the 2026-01-01 shape for the datasets asked for."""

    book: OrderBook
    included: frozenset[str]
    granted: frozenset[str]  # the application's roles

    def shipping_pii(self, state: OrderState) -> bool:
        """buyer.buyerEmail, and the recipient's name, address lines, postal code and phone:
        Direct-to-Consumer Shipping, merchant orders."""
        merchant = state.facts.timeline.channel == "MFN"
        return D2C_SHIPPING in self.granted and merchant and state.status in PII_STATUSES

    def buyer_name(self, state: OrderState) -> bool:
        merchant = state.facts.timeline.channel == "MFN"
        allowed = TAX_ROLES | {D2C_SHIPPING} if merchant else TAX_ROLES
        return bool(self.granted & allowed) and state.status in PII_STATUSES

    def money(self, cents: int) -> msgspec.Struct:
        return Money2026(amount=amount(cents), currencyCode=self.book.gen.marketplace.currency)

    def order(self, state: OrderState) -> dict[str, object]:
        facts, market = state.facts, self.book.gen.marketplace
        order: dict[str, object] = {
            "orderId": facts.order_id,
            "orderAliases": [{"aliasId": facts.order_id, "aliasType": "SELLER_ORDER_ID"}],
            "createdTime": iso(state.purchase_date),
            "lastUpdatedTime": iso(state.last_update),
            "programs": [
                p
                for p, on in (("PRIME", facts.is_prime), ("AMAZON_BUSINESS", facts.is_business))
                if on
            ],
            "salesChannel": {
                "channelName": "AMAZON",
                "marketplaceId": market.id,
                "marketplaceName": market.name,
            },
            "orderItems": [self.item(state, item) for item in facts.items],
        }
        optional = {
            "BUYER": self.buyer,
            "RECIPIENT": self.recipient,
            "PROCEEDS": self.proceeds,
            "FULFILLMENT": self.fulfillment,
            "PACKAGES": self.packages,
        }
        for dataset, build in optional.items():
            if dataset in self.included and (value := build(state)) is not None:
                order[dataset.lower()] = value
        return order

    def buyer(self, state: OrderState) -> dict[str, str] | None:
        buyer: dict[str, str] = {}
        if self.buyer_name(state):
            buyer["buyerName"] = state.facts.buyer_name
        if self.shipping_pii(state):
            buyer["buyerEmail"] = state.facts.buyer_email
        return buyer or None

    def recipient(self, state: OrderState) -> dict[str, object] | None:
        a = state.facts.address
        # Postal code counts as PII in this API (unlike v0's coarse address).
        address: dict[str, str] = {
            "city": a.city,
            "stateOrRegion": a.state,
            "countryCode": a.country_code,
        }
        if self.shipping_pii(state):
            address |= {
                "name": a.name,
                "addressLine1": a.line1,
                "postalCode": a.postal_code,
                "phone": a.phone,
                "addressType": "RESIDENTIAL",
            }
        return {"deliveryAddress": address}

    def proceeds(self, state: OrderState) -> dict[str, object] | None:
        if state.status in ("Pending", "Canceled"):
            return None
        items = sum(line_cents(i) for i in state.facts.items)
        shipping = sum(i.shipping_cents for i in state.facts.items)
        return {
            "grandTotal": self.money(order_total_cents(state)),
            "breakdowns": [
                {"type": "ITEM", "subtotal": self.money(items)},
                {"type": "SHIPPING", "subtotal": self.money(shipping)},
            ],
        }

    def fulfillment(self, state: OrderState) -> dict[str, object]:
        win = windows(self.book, state)
        return {
            "fulfillmentStatus": STATUS[state.status],
            "fulfilledBy": CHANNEL[state.facts.timeline.channel],
            "fulfillmentServiceLevel": state.facts.service_category.upper(),
            "shipByWindow": DateTimeRange(
                earliestDateTime=iso(win.earliest_ship), latestDateTime=iso(win.latest_ship)
            ),
            "deliverByWindow": DateTimeRange(
                earliestDateTime=iso(win.earliest_delivery), latestDateTime=iso(win.latest_delivery)
            ),
        }

    def packages(self, state: OrderState) -> list[dict[str, object]] | None:
        if state.status != "Shipped":
            return None
        shipped = iso(state.last_update)
        return [
            {
                "packageReferenceId": "1",
                "createdTime": shipped,
                "packageStatus": {"status": "SHIPPED"},
                "carrier": "Colissimo" if state.facts.address.country_code == "FR" else "DHL",
                "shipTime": shipped,
                "shippingService": state.facts.ship_service_level,
                "trackingNumber": f"KB{state.order_id.replace('-', '')[-12:]}",
                "packageItems": [
                    {"orderItemId": i.order_item_id, "quantity": i.quantity}
                    for i in state.facts.items
                ],
            }
        ]

    def item(self, state: OrderState, item: ItemFacts) -> dict[str, object]:
        quantity = state.quantity(item.quantity)
        out: dict[str, object] = {
            "orderItemId": item.order_item_id,
            "quantityOrdered": quantity,
            "product": {
                "asin": item.product.asin,
                "title": item.product.title,
                "sellerSku": item.product.sku,
                "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                "price": {"unitPrice": self.money(item.product.unit_price_cents)},
            },
        }
        if "PROCEEDS" in self.included and state.status != "Canceled":
            out["proceeds"] = {"proceedsTotal": self.money(line_cents(item) + item.shipping_cents)}
        if "FULFILLMENT" in self.included:
            done = quantity if state.status == "Shipped" else 0
            out["fulfillment"] = {"quantityFulfilled": done, "quantityUnfulfilled": quantity - done}
        if "CANCELLATION" in self.included and state.status == "Canceled":
            out["cancellation"] = {
                "cancellationExecution": {"cancelledBy": "BUYER", "cancelReason": "BUYER_CANCELED"}
            }
        return out


def _renderer(ctx: CallContext, book: OrderBook) -> Renderer:
    return Renderer(
        book=book,
        included=frozenset(ctx.query.get("includedData", [])),
        granted=frozenset(ctx.sandbox.settings.app_roles),
    )


# A paginationToken request re-sends the first request's parameters; only these
# may differ (and paginationToken itself).
MAY_CHANGE = frozenset({"paginationToken", "maxResultsPerPage", "includedData"})
TOKEN_LIFETIME = 24 * 3600.0  # Amazon seconds


class SearchPage(msgspec.Struct):
    """The listing and a fingerprint of the parameters that must be re-sent."""

    query: OrderQuery
    filters: str


def _fingerprint(ctx: CallContext) -> str:
    """MAC of the request's filters, independent of parameter and list order."""
    filters = {
        name: sorted(value) if isinstance(value, list) else value
        for name, value in sorted(ctx.query.items())
        if name not in MAY_CHANGE
    }
    return ctx.sandbox.signer.mac(msgspec.json.encode(filters).decode())


def _search_listing(ctx: CallContext, book: OrderBook) -> OrderQuery:
    q = ctx.query
    query = window_query(ctx, V2026_NAMES, required=True)
    statuses = q.get("fulfillmentStatuses")
    channels = q.get("fulfilledBy")
    return msgspec.structs.replace(
        query,
        statuses=[FROM_STATUS.get(s, s) for s in statuses] if statuses else None,
        channels=[FROM_CHANNEL[c] for c in channels] if channels else None,
        matches_nothing=not check_marketplaces(q.get("marketplaceIds"), book),
        page_size=check_page_size(q.get("maxResultsPerPage"), "maxResultsPerPage"),
    )


def _next_page(ctx: CallContext, token: str) -> OrderQuery:
    lifetime = ctx.sandbox.clock.real_duration(TOKEN_LIFETIME)
    page = ctx.sandbox.signer.open_page(token, SearchPage, "paginationToken", ctx.now, lifetime)
    if page.filters != _fingerprint(ctx):
        raise invalid_input(
            "Parameters other than maxResultsPerPage and includedData must be the same "
            "as in the request that returned the paginationToken."
        )
    size = check_page_size(ctx.query.get("maxResultsPerPage"), "maxResultsPerPage")
    return msgspec.structs.replace(page.query, page_size=size)


async def search_orders(ctx: CallContext) -> Answer:
    book = ctx.book()
    token = ctx.query.get("paginationToken")
    query = _next_page(ctx, token) if token else _search_listing(ctx, book)
    states, following = book.page(query)
    renderer = _renderer(ctx, book)
    body: dict[str, object] = {"orders": [renderer.order(s) for s in states]}
    if following is not None:
        page = SearchPage(following, _fingerprint(ctx))
        body["pagination"] = {"nextToken": ctx.sandbox.signer.seal_page(page, ctx.now)}
    return Answer(200, body | watermark(query, V2026_NAMES))


async def get_order_2026(ctx: CallContext) -> Answer:
    book, state = ctx.order("orderId")
    return Answer(200, {"order": _renderer(ctx, book).order(state)})


IMPLEMENTATIONS = {
    "ordersV0.getOrders": get_orders,
    "ordersV0.getOrder": get_order_v0,
    "ordersV0.getOrderItems": get_order_items,
    "orders2026.searchOrders": search_orders,
    "orders2026.getOrder": get_order_2026,
}
