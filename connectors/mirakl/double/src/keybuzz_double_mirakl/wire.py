"""The JSON of Mirakl's seller API as its OpenAPI description names it (M10/M11 threads,
OR11 orders): field names here are checked by the tests against that description."""

from __future__ import annotations

from typing import Any

from keybuzz_sandbox.double_kit.api import iso_millis

from .book import CUSTOMER, OPERATOR, SENDER_TYPES, SHOP, Message, Order, ShopBook, Thread
from .contract import DESCRIBED

ORDER = "OR11_Response_200_Orders"  # the description's schema of an order, and its parts
# Messages of a thread in M11 with with_messages=true (official: "the last 100").
LISTED_MESSAGES = 100
PARTICIPANTS = (SHOP, CUSTOMER, OPERATOR)


def participant(book: ShopBook, kind: str, order: Order) -> dict[str, Any]:
    names = {CUSTOMER: order.customer.display_name, OPERATOR: book.operator.name}
    entry: dict[str, Any] = {"display_name": names.get(kind, book.spec.name), "type": kind}
    if kind == SHOP:
        entry["id"] = str(book.shop_id)
    elif kind == CUSTOMER:
        entry["id"] = order.customer.customer_id
    return entry  # an operator has no id (official)


def sender(message: Message) -> dict[str, Any]:
    """A message's sender by its type and name (its ``organization_details``: nothing of
    ours reads them)."""
    return {"display_name": message.sender_name, "type": SENDER_TYPES[message.sender]}


def message_json(book: ShopBook, message: Message, order: Order) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": message.message_id,
        "body": message.body,
        "date_created": iso_millis(message.created),
        "from": sender(message),
        "to": [participant(book, kind, order) for kind in message.to],
    }
    if message.attachments:
        entry["attachments"] = [
            {"id": a.attachment_id, "name": a.name, "size": len(a.content)}
            for a in message.attachments
        ]
    return entry


def thread_json(book: ShopBook, thread: Thread, messages: int | None) -> dict[str, Any]:
    """A thread; with its last ``messages`` messages (None: none, the M11 default)."""
    order = thread.order
    last = thread.messages[-1]
    current = [p for p in PARTICIPANTS if any(p == m.sender or p in m.to for m in thread.messages)]
    since = thread.reply_needed_since
    entry: dict[str, Any] = {
        "id": thread.thread_id,
        "topic": {"type": thread.topic_type, "value": thread.topic},
        "entities": [
            {"id": order.order_id, "label": order.commercial_id, "type": "MMP_ORDER"},
        ],
        "authorized_participants": [participant(book, p, order) for p in PARTICIPANTS],
        "current_participants": [participant(book, p, order) for p in current],
        "date_created": iso_millis(thread.created),
        "date_updated": iso_millis(thread.updated),
        "metadata": {
            "last_message_date": iso_millis(last.created),
            "last_sender": sender(last),
            "shop_reply_needed_since": None if since is None else iso_millis(since),
            "total_count": len(thread.messages),
        },
        "no_store_reply_needed": [
            {"date": iso_millis(when), "user_type": who} for when, who in thread.no_reply_needed
        ],
    }
    if messages is not None:
        entry["messages"] = [
            message_json(book, m, order) for m in thread.messages[-messages:] if messages
        ]
    return entry


def _line_json(order: Order, line: Any) -> dict[str, Any]:
    price = round(line.unit_price * line.quantity, 2)
    refunds = [
        {
            "amount": refund.amount,
            "created_date": iso_millis(refund.created),
            "id": refund.refund_id,
            "quantity": line.quantity,
            "reason_code": refund.reason_code,
            "refund_state": "REFUNDED",
            "state": "REFUNDED",
        }
        for refund in line.refunds
    ]
    return {
        "can_refund": line.state in ("RECEIVED", "SHIPPED", "INCIDENT_OPEN"),
        "created_date": iso_millis(order.created),
        "description": line.title,
        "last_updated_date": iso_millis(line.updated),
        "offer_sku": line.sku,
        "order_line_id": line.line_id,
        "order_line_index": line.index,
        "order_line_state": line.state,
        "price": price,
        "price_unit": line.unit_price,
        "product_sku": line.sku,
        "product_title": line.title,
        "quantity": line.quantity,
        "refunds": [DESCRIBED.filled(f"{ORDER}_OrderLines_Refunds", r) for r in refunds],
        "total_price": price,
    }


def order_json(book: ShopBook, order: Order) -> dict[str, Any]:
    """An OR11 order: what the double knows of it, the rest of Mirakl's required fields
    (commissions, shipping zone, tax mode …: nothing of ours reads them) their empty values."""
    price = round(sum(line.unit_price * line.quantity for line in order.lines), 2)
    customer = order.customer
    address = {"city": "Lille", "country_iso_code": "FRA", "street_1": "12 rue Nationale"}
    names = {"firstname": customer.firstname, "lastname": customer.lastname}
    lines = [_line_json(order, line) for line in order.lines]
    given = {
        "order_id": order.order_id,
        "commercial_id": order.commercial_id,
        "channel": {"code": order.channel.code, "label": order.channel.label},
        "order_state": order.state,
        "created_date": iso_millis(order.created),
        "last_updated_date": iso_millis(order.updated),
        "can_cancel": order.state == "WAITING_ACCEPTANCE",
        "can_shop_ship": order.state == "SHIPPING",
        "currency_iso_code": "EUR",
        "customer": {
            "customer_id": customer.customer_id,
            "locale": "fr_FR",
            "billing_address": address | names,
            "shipping_address": address | names,
            **names,
        },
        "fully_refunded": all(line.state == "REFUNDED" for line in order.lines),
        "has_customer_message": any(t.order is order for t in book.threads.values()),
        "has_incident": order.has_incident,
        "order_lines": [DESCRIBED.filled(f"{ORDER}_OrderLines", line) for line in lines],
        "price": price,
        "shipping_tracking": order.shipping_tracking,
        "total_price": price,
    }
    return DESCRIBED.filled(ORDER, given)
