"""The double's JSON: discussions, messages and orders as Octopia's API shows them
(field names official or observed: docs/SANDBOX.md says which), times as real UTC."""

from __future__ import annotations

from typing import Any

from keybuzz_sandbox.clock import iso

from .book import DiscussionRecord, MessageRecord, ShopBook
from .generator import SELLER, OrderFacts

SUPPLY_MODE = "Seller"  # every order is shipped by the seller (no fulfilment by Octopia)
CARRIER = "Colissimo"


def user(user_id: str, user_type: str) -> dict[str, str]:
    return {"userId": user_id, "userType": user_type}


def message_json(book: ShopBook, message: MessageRecord) -> dict[str, Any]:
    facts = message.facts
    receivers = [user(*r) for r in facts.receivers]
    return {
        "messageId": facts.message_id,
        "body": facts.body,
        "sender": user(facts.sender_id, facts.sender_type),
        "receiver": receivers[0],
        "receivers": receivers,
        "createdAt": iso(book.real(facts.created)),
        "hasRead": message.read,
        "attachments": [
            {"attachmentId": a.attachment_id, "name": a.name, "fileFormat": a.file_format}
            for a in facts.attachments
        ],
    }


def discussion_json(
    book: ShopBook, record: DiscussionRecord, now: float, include: str | None = None
) -> dict[str, Any]:
    facts = record.facts
    shown = record.visible(now)
    waiting = record.is_open(now) and shown[-1].facts.sender_type != SELLER
    body: dict[str, Any] = {
        "discussionId": facts.discussion_id,
        "subject": facts.subject,
        "orderReference": facts.order_id,
        "orderSellerId": facts.order_id,
        "salesChannelExternalReference": facts.order_id,
        "isOpen": record.is_open(now),
        "graduation": record.graduation(now),
        "typologyCode": facts.typology,
        "subTypologyCode": facts.sub_typology,
        "createdAt": iso(book.real(facts.opened)),
        "updatedAt": iso(book.real(record.updated(now))),
        "status": "ToTreat" if waiting else "Treated",
        "customerId": facts.customer_id,
        "sellerId": book.seller_id,
        "salesChannel": facts.sales_channel,
    }
    picked = {"FirstMessage": shown[:1], "LastMessage": shown[-1:], "All": shown}.get(include or "")
    if picked is not None:
        body["messages"] = [message_json(book, m) for m in picked]
    return body


def order_json(book: ShopBook, order: OrderFacts, now: float) -> dict[str, Any]:
    status, changed = order.status_at(now)
    customer_id, first, last = book.gen.customer(order.index)
    shipped = order.reached("Shipped")
    parcels = []
    if shipped is not None and shipped <= now:
        parcels.append(
            {"parcelNumber": f"6A{order.order_id[:10]}{order.index:05d}", "carrierName": CARRIER}
        )
    return {
        "orderId": order.order_id,
        "reference": order.order_id,
        "status": status,
        "salesChannelId": order.sales_channel,
        "supplyMode": SUPPLY_MODE,
        "purchasedAt": iso(book.real(order.placed)),
        "createdAt": iso(book.real(order.placed)),
        "updatedAt": iso(book.real(changed)),
        "customer": {"customerId": customer_id, "firstName": first, "lastName": last},
        "lines": [
            {
                "lineId": str(n + 1),
                "offer": {"sellerProductId": sku, "productTitle": title},
                "quantity": quantity,
                "unitPrice": price,
            }
            for n, (sku, title, quantity, price) in enumerate(book.gen.lines(order.index))
        ],
        "parcels": parcels,
    }
