"""Messaging API v1: getMessagingActionsForOrder (which messages the seller may send).

Buyer messages themselves are not readable through SP-API: see relay.py.
"""

from __future__ import annotations

from .errors import invalid_input
from .listing import check_marketplaces, find_order
from .spapi import CallContext, Reply

ALWAYS = ("legalDisclosure", "unexpectedProblem")
BY_STATUS = {
    "Pending": (),
    "Unshipped": ("confirmOrderDetails", "confirmDeliveryDetails", "confirmCustomizationDetails"),
    "Shipped": ("confirmDeliveryDetails", "warranty", "invoice"),
}


def _link(href: str, name: str | None = None) -> dict[str, str]:
    return {"href": href} if name is None else {"href": href, "name": name}


async def get_messaging_actions_for_order(ctx: CallContext) -> Reply:
    book = ctx.book()
    marketplaces = ctx.query["marketplaceIds"]
    if not check_marketplaces(marketplaces, book):
        raise invalid_input("The order does not belong to the requested marketplace.")
    order_id = ctx.path_params["amazonOrderId"]
    state = find_order(book, order_id, ctx.now)
    names = () if state.status == "Canceled" else ALWAYS + BY_STATUS[state.status]
    base = f"/messaging/v1/orders/{order_id}"
    suffix = f"?marketplaceIds={','.join(marketplaces)}"
    actions = [_link(f"{base}/messages/{name}{suffix}", name) for name in names]
    embedded = [
        {
            "_links": {
                "self": _link(f"{base}/messages/{name}{suffix}", name),
                "schema": _link(f"{base}/messages/{name}/schema", name),
            }
        }
        for name in names
    ]
    return Reply(
        {
            "_links": {"self": _link(base + suffix), "actions": actions},
            "_embedded": {"actions": embedded},
        }
    )


IMPLEMENTATIONS = {"messaging.getMessagingActionsForOrder": get_messaging_actions_for_order}
