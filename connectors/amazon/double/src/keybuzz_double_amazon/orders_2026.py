"""Orders API 2026-01-01: searchOrders and getOrder (items inline, datasets on request)."""

from __future__ import annotations

import msgspec
from keybuzz_sandbox.clock import iso
from keybuzz_sandbox.double_kit.model_structs import model_structs

from .errors import invalid_input
from .listing import (
    V2026_NAMES,
    amount,
    check_marketplaces,
    check_page_size,
    find_order,
    line_cents,
    open_page,
    order_total_cents,
    seal_page,
    watermark,
    windows,
)
from .models import model_document
from .order_book import OrderBook, OrderQuery, OrderState
from .roles import Roles
from .seed import ItemFacts
from .spapi import CallContext, Reply

STATUS = {
    "Pending": "PENDING",
    "Unshipped": "UNSHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
}
FROM_STATUS = {v: k for k, v in STATUS.items()}
CHANNEL = {"MFN": "MERCHANT", "AFN": "AMAZON"}
FROM_CHANNEL = {v: k for k, v in CHANNEL.items()}


# The model's own definitions (every field it names, none other).
Money, DateTimeRange = model_structs(
    model_document("orders2026")["definitions"], "Money", "DateTimeRange"
)


class Renderer(msgspec.Struct, kw_only=True):
    """Renders one seller's orders in the 2026-01-01 shape for the datasets asked for."""

    book: OrderBook
    included: frozenset[str]
    roles: Roles  # no RDT in this API: the application's roles decide

    def money(self, cents: int) -> msgspec.Struct:
        return Money(amount=amount(cents), currencyCode=self.book.gen.marketplace.currency)

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
            value = build(state) if dataset in self.included else None
            if value is not None:
                order[dataset.lower()] = value
        return order

    def buyer(self, state: OrderState) -> dict[str, str] | None:
        status, channel = state.status, state.facts.timeline.channel
        buyer: dict[str, str] = {}
        if self.roles.buyer_name(status, channel):
            buyer["buyerName"] = state.facts.buyer_name
        if self.roles.shipping_pii(status, channel):
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
        if self.roles.shipping_pii(state.status, state.facts.timeline.channel):
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
        level = "EXPEDITED" if state.facts.ship_service_level.startswith("Exp") else "STANDARD"
        return {
            "fulfillmentStatus": STATUS[state.status],
            "fulfilledBy": CHANNEL[state.facts.timeline.channel],
            "fulfillmentServiceLevel": level,
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
        roles=ctx.sandbox.roles,
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


def _listing(ctx: CallContext, book: OrderBook) -> OrderQuery:
    q = ctx.query
    query = ctx.window(V2026_NAMES, required=True)
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
    page = open_page(ctx.sandbox.signer, token, SearchPage, "paginationToken", ctx.now, lifetime)
    if page.filters != _fingerprint(ctx):
        raise invalid_input(
            "Parameters other than maxResultsPerPage and includedData must be the same "
            "as in the request that returned the paginationToken."
        )
    size = check_page_size(ctx.query.get("maxResultsPerPage"), "maxResultsPerPage")
    return msgspec.structs.replace(page.query, page_size=size)


async def search_orders(ctx: CallContext) -> Reply:
    book = ctx.book()
    token = ctx.query.get("paginationToken")
    query = _next_page(ctx, token) if token else _listing(ctx, book)
    states, following = book.page(query)
    renderer = _renderer(ctx, book)
    body: dict[str, object] = {"orders": [renderer.order(s) for s in states]}
    if following is not None:
        page = SearchPage(following, _fingerprint(ctx))
        body["pagination"] = {"nextToken": seal_page(ctx.sandbox.signer, page, ctx.now)}
    return Reply(body | watermark(query, V2026_NAMES))


async def get_order(ctx: CallContext) -> Reply:
    book = ctx.book()
    state = find_order(book, ctx.path_params["orderId"], ctx.now)
    return Reply({"order": _renderer(ctx, book).order(state)})


IMPLEMENTATIONS = {
    "orders2026.searchOrders": search_orders,
    "orders2026.getOrder": get_order,
}
