"""The JSON of Mirakl's seller API as its OpenAPI description names it (M10/M11 threads,
OR11 orders): field names here are checked by the tests against that description."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .book import CUSTOMER, OPERATOR, SENDER_TYPES, SHOP, Message, Order, ShopBook, Thread

# Messages of a thread in M11 with with_messages=true (official: "the last 100").
LISTED_MESSAGES = 100
PARTICIPANTS = (SHOP, CUSTOMER, OPERATOR)


def mirakl_time(ts: float) -> str:
    """Mirakl's timestamps: UTC, milliseconds, trailing Z (as in its examples)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def participant(book: ShopBook, kind: str, order: Order) -> dict[str, Any]:
    entry: dict[str, Any] = {"display_name": book.participant_name(kind, order), "type": kind}
    if kind == SHOP:
        entry["id"] = str(book.shop_id)
    elif kind == CUSTOMER:
        entry["id"] = order.customer.customer_id
    return entry  # an operator has no id (official)


def sender(book: ShopBook, message: Message, order: Order) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "display_name": message.sender_name,
        "type": SENDER_TYPES[message.sender],
    }
    if message.sender != CUSTOMER:
        entry["organization_details"] = participant(book, message.sender, order)
    return entry


def message_json(book: ShopBook, message: Message, order: Order) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": message.message_id,
        "body": message.body,
        "date_created": mirakl_time(message.created),
        "from": sender(book, message, order),
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
        "date_created": mirakl_time(thread.created),
        "date_updated": mirakl_time(thread.updated),
        "metadata": {
            "last_message_date": mirakl_time(last.created),
            "last_sender": sender(book, last, order),
            "shop_reply_needed_since": None if since is None else mirakl_time(since),
            "total_count": len(thread.messages),
        },
        "no_store_reply_needed": [
            {"date": mirakl_time(when), "user_type": who} for when, who in thread.no_reply_needed
        ],
    }
    if messages is not None:
        entry["messages"] = [
            message_json(book, m, order) for m in thread.messages[-messages:] if messages
        ]
    return entry


def _address(order: Order) -> dict[str, Any]:
    customer = order.customer
    return {
        "city": "Lille",
        "country": "France",
        "country_iso_code": "FRA",
        "firstname": customer.firstname,
        "lastname": customer.lastname,
        "street_1": "12 rue Nationale",
        "zip_code": "59000",
    }


def _line_json(order: Order, line: Any) -> dict[str, Any]:
    price = round(line.unit_price * line.quantity, 2)
    return {
        "can_refund": line.state in ("RECEIVED", "SHIPPED", "INCIDENT_OPEN"),
        "cancelations": [],
        "category_code": "MAISON",
        "category_label": "Maison",
        "commission_fee": round(price * 0.15, 2),
        "commission_rate_vat": 20.0,
        "commission_vat": round(price * 0.03, 2),
        "created_date": mirakl_time(order.created),
        "description": line.title,
        "last_updated_date": mirakl_time(line.updated),
        "offer_id": 1_000 + line.index,
        "offer_sku": line.sku,
        "offer_state_code": "11",
        "order_line_additional_fields": [],
        "order_line_id": line.line_id,
        "order_line_index": line.index,
        "order_line_state": line.state,
        "price": price,
        "price_unit": line.unit_price,
        "product_medias": [],
        "product_sku": line.sku,
        "product_title": line.title,
        "quantity": line.quantity,
        "refunds": [
            {
                "amount": refund.amount,
                "commission_amount": 0.0,
                "commission_tax_amount": 0.0,
                "commission_taxes": [],
                "commission_total_amount": 0.0,
                "created_date": mirakl_time(refund.created),
                "id": refund.refund_id,
                "order_refund_id": refund.refund_id,
                "quantity": line.quantity,
                "reason_code": refund.reason_code,
                "refund_state": "REFUNDED",
                "state": "REFUNDED",
            }
            for refund in line.refunds
        ],
        "shipping_price": 0.0,
        "total_commission": round(price * 0.18, 2),
        "total_price": price,
    }


def order_json(book: ShopBook, order: Order) -> dict[str, Any]:
    price = round(sum(line.unit_price * line.quantity for line in order.lines), 2)
    customer = order.customer
    has_message = any(t.order is order for t in book.threads.values())
    return {
        "order_id": order.order_id,
        "commercial_id": order.commercial_id,
        "channel": {"code": order.channel.code, "label": order.channel.label},
        "order_state": order.state,
        "created_date": mirakl_time(order.created),
        "last_updated_date": mirakl_time(order.updated),
        "can_cancel": order.state == "WAITING_ACCEPTANCE",
        "can_shop_ship": order.state == "SHIPPING",
        "currency_iso_code": "EUR",
        "customer": {
            "customer_id": customer.customer_id,
            "firstname": customer.firstname,
            "lastname": customer.lastname,
            "locale": "fr_FR",
            "billing_address": _address(order),
            "shipping_address": _address(order),
        },
        "fulfillment": {"center": {"code": "DEFAULT"}},
        "fully_refunded": all(line.state == "REFUNDED" for line in order.lines),
        "has_customer_message": has_message,
        "has_incident": order.has_incident,
        "has_invoice": False,
        "leadtime_to_ship": 2,
        "order_lines": [_line_json(order, line) for line in order.lines],
        "order_tax_mode": "TAX_INCLUDED",
        "paymentType": "CB",
        "price": price,
        "shipping_price": 0.0,
        "shipping_tracking": order.shipping_tracking,
        "shipping_type_code": "STD",
        "shipping_type_label": "Livraison standard",
        "shipping_zone_code": "FR",
        "shipping_zone_label": "France métropolitaine",
        "total_commission": round(price * 0.18, 2),
        "total_price": price,
    }
