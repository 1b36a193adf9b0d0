"""Messaging API v1 (docs/SANDBOX.md): decided here, where the model says nothing, the
actions an order's status allows and a refused action's 403 (observed)."""

from __future__ import annotations

from typing import Any

import msgspec
from keybuzz_sandbox.clock import iso

from .errors import SpApiError, invalid_input
from .listing import check_marketplaces
from .models import model_document
from .order_book import OrderBook, OrderState
from .spapi import Answer, CallContext, Implementation

ALWAYS = ("legalDisclosure", "unexpectedProblem")
BY_STATUS: dict[str, tuple[str, ...]] = {
    "Pending": (),
    "Unshipped": ("confirmOrderDetails", "confirmDeliveryDetails", "confirmCustomizationDetails"),
    "Shipped": ("confirmDeliveryDetails", "warranty", "invoice"),
}
# Action name (the last segment of the model's path) -> the model's operationId: every
# templated message the model names (confirmServiceDetails and digitalAccessKey never
# allowed: no home services, no digital goods).
SEND_OPERATIONS = {
    path.rsplit("/", 1)[1]: item["post"]["operationId"]
    for path, item in model_document("messaging")["paths"].items()
    if "/messages/" in path
}
TEMPLATE_REFUSED = "Invalid amazonOrderId and template combination."


class SentMessage(msgspec.Struct, kw_only=True, rename="camel"):
    """A templated message as the buyer received it."""

    order_id: str
    action: str
    selling_partner_id: str
    marketplace_id: str
    body: dict[str, Any]
    sent_at: str


def allowed_actions(state: OrderState) -> tuple[str, ...]:
    return () if state.status == "Canceled" else ALWAYS + BY_STATUS[state.status]


def _link(href: str, name: str | None = None) -> dict[str, str]:
    return {"href": href} if name is None else {"href": href, "name": name}


def _order_of_call(ctx: CallContext) -> tuple[OrderBook, OrderState, list[str]]:
    marketplaces = ctx.query["marketplaceIds"]
    if not check_marketplaces(marketplaces, ctx.book()):
        raise invalid_input("The order does not belong to the requested marketplace.")
    return *ctx.order("amazonOrderId"), marketplaces


async def get_messaging_actions_for_order(ctx: CallContext) -> Answer:
    _, state, marketplaces = _order_of_call(ctx)
    names = allowed_actions(state)
    base = f"/messaging/v1/orders/{state.order_id}"
    suffix = f"?marketplaceIds={','.join(marketplaces)}"
    links = {name: _link(f"{base}/messages/{name}{suffix}", name) for name in names}
    embedded = [
        {"_links": {"self": link, "schema": _link(f"{base}/messages/{name}/schema", name)}}
        for name, link in links.items()
    ]
    return Answer(
        200,
        {
            "_links": {"self": _link(base + suffix), "actions": list(links.values())},
            "_embedded": {"actions": embedded},
        },
    )


async def get_attributes(ctx: CallContext) -> Answer:
    book, _, _ = _order_of_call(ctx)
    language = book.gen.marketplace.language  # fr_FR
    return Answer(200, {"buyer": {"locale": language.replace("_", "-")}})


def send_implementation(action: str) -> Implementation:
    async def send(ctx: CallContext) -> Answer:
        book, state, _ = _order_of_call(ctx)
        if action not in allowed_actions(state):
            raise SpApiError(403, "Unauthorized", TEMPLATE_REFUSED, "")
        message = SentMessage(
            order_id=state.order_id,
            action=action,
            selling_partner_id=book.gen.spec.seller_id,
            marketplace_id=book.gen.spec.marketplace_id,
            body=ctx.body,
            sent_at=iso(ctx.now),
        )
        ctx.sandbox.templated_sent.append(message)
        return Answer(201, msgspec.Raw(b""))  # Amazon: 201 and nothing else

    return send


IMPLEMENTATIONS: dict[str, Implementation] = {
    "messaging.getMessagingActionsForOrder": get_messaging_actions_for_order,
    "messaging.GetAttributes": get_attributes,
    **{
        f"messaging.{operation_id}": send_implementation(action)
        for action, operation_id in SEND_OPERATIONS.items()
    },
}
