"""The JSON of Back Market's seller API as its OpenAPI description names it (care folders,
their messages and claims, orders): field names here are checked by the tests against that
description. Dates a folder or an order does not have yet (closing, shipping) are left
out."""

from __future__ import annotations

from typing import Any

from .book import Folder, Line, Message, Order, ShopBook
from .double import bm_time
from .shops import merchant_id

ISO_COUNTRIES = {"fr-fr": "FR", "de-de": "DE", "es-es": "ES", "it-it": "IT"}
CITIES = {
    "fr-fr": ("Lyon", "69002", "12 rue de la République", "France"),
    "de-de": ("Berlin", "10115", "Invalidenstraße 12", "Deutschland"),
    "es-es": ("Madrid", "28013", "Calle Mayor 12", "España"),
    "it-it": ("Milano", "20121", "Via Dante 12", "Italia"),
}
# An order's address names these fields in camelCase.
ORDER_KEYS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "postal_code": "postalCode",
    "phone": "phoneNumber",
}


def money(amount: float) -> str:
    return f"{amount:.2f}"


def folder_summary(book: ShopBook, folder: Folder) -> dict[str, Any]:
    """A care folder in GET /ws/sav's ``results``."""
    entry: dict[str, Any] = {
        "id": folder.folder_id,
        "client": folder.order.customer.customer_id,
        "merchant": merchant_id(book.spec.number),
        "orderline": folder.line.line_id,
        "date_creation": bm_time(folder.created),
        "date_modification": bm_time(folder.modified),
        "date_last_message": bm_time(folder.last_message),
        "state": folder.state,
        "lines": [claim.claim_id for claim in folder.claims],
        "country_code": folder.order.country,
        "backcare": folder.backcare,
    }
    if folder.closed is not None:
        entry["date_closed"] = bm_time(folder.closed)
    return entry


def message_json(message: Message, files_url: str) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "message": message.text,
        "date_creation": bm_time(message.created),
        "attachments": [
            {
                "id": a.attachment_id,
                "attachment": a.link or f"{files_url}/{a.attachment_id}/{a.name}",
                "date_creation": bm_time(a.created),
            }
            for a in message.attachments
        ],
        "initiator": message.initiator,
        "kind": message.kind,
        "is_informative": message.informative,
    }


def _address(order: Order, care: bool) -> dict[str, Any]:
    """The buyer's address: a care folder's order's (``care``: snake_case, with their email)
    or an order's (camelCase, with the order's id)."""
    city, postal, street, country = CITIES.get(order.country, CITIES["fr-fr"])
    customer = order.customer
    fields = {
        "company": "",
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "street": street,
        "street2": "",
        "postal_code": postal,
        "city": city,
        "phone": "+33600000000",
    }
    if care:
        return fields | {"country": country, "email": customer.email}
    iso = ISO_COUNTRIES.get(order.country, "FR")
    return {"id": order.order_id, "country": iso} | {
        ORDER_KEYS.get(k, k): v for k, v in fields.items()
    }


def _order(order: Order, care: bool) -> dict[str, Any]:
    """What a care folder's order and an order of GET /ws/orders both say."""
    entry: dict[str, Any] = {
        "order_id": order.order_id,
        "shipping_address": _address(order, care),
        "billing_address": _address(order, care),
        "date_creation": bm_time(order.created),
        "date_modification": bm_time(order.modified),
        "date_payment": bm_time(order.created),
        "state": order.state,
        "price": money(order.price),
        "shipping_price": money(0),
        "currency": "EUR",
        "country_code": order.country,
    }
    if order.shipped is not None:
        entry |= {
            "tracking_number": f"6A{order.order_id}",
            "tracking_url": f"https://www.laposte.fr/outils/suivre-vos-envois?code=6A{order.order_id}",
            "shipper_display": "Colissimo",
            "date_shipping": bm_time(order.shipped),
        }
    return entry


def folder_details(book: ShopBook, folder: Folder, files_url: str) -> dict[str, Any]:
    """GET /ws/sav/{careFolderId}: the folder, its messages and claims, its order line."""
    line, customer, seller = folder.line, folder.order.customer, book.spec
    title, _, price, category = line.product
    return folder_summary(book, folder) | {
        "client": {
            "id": 0,  # official: always 0
            "username": "",  # official: always empty
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "email": customer.email,
        },
        "merchant": {
            "id": merchant_id(seller.number),
            "username": f"shop{seller.number}@keybuzz.io",
            "first_name": "KeyBuzz",
            "last_name": seller.name,
        },
        "messages": [message_json(m, files_url) for m in folder.messages],
        "lines": [
            {
                "id": claim.claim_id,
                "issues": [{"customerIssue": issue, "tag": tag} for issue, tag in claim.issues],
                "state": claim.state,
                "resolution_choice": claim.resolution,
                "declared_warranty_state": claim.warranty,
                "return_labels": [],
            }
            for claim in folder.claims
        ],
        "orderline": {
            "id": line.line_id,
            "order": _order(folder.order, care=True)
            | ({"shipper": 3} if folder.order.shipped is not None else {}),
            "snapshot": {
                "id": 0,  # official: always 0
                "product": {
                    "product_id": line.product_id,
                    "category_3": {"category_name": category},
                },
                "listing": line.listing_id,
                "sku": line.sku,
                "image": f"https://d2e6ccujb3mkqf.cloudfront.net/{line.product_id}.jpg",
            },
            "quantity": line.quantity,
            "price": money(price),
            "state": line.state,
        },
    }


def _line(line: Line) -> dict[str, Any]:
    title, brand, price, _ = line.product
    return {
        "id": line.line_id,
        "date_creation": bm_time(line.created),
        "state": line.state,
        "price": money(price),
        "shipping_price": money(0),
        "shipping_delay": 2,
        "currency": "EUR",
        "listing": line.sku,
        "listing_id": line.listing_id,
        "orderline_fee": money(price * 0.1),
        "product": title,
        "quantity": line.quantity,
        "brand": brand,
        "product_id": line.product_id,
        "backcare": False,
        "backcare_price": 0,
        "condition": 10,
    }


def order_json(order: Order) -> dict[str, Any]:
    """An order of GET /ws/orders and GET /ws/orders/{order_id}."""
    entry = _order(order, care=False) | {
        "is_backship": False,
        "orderlines": [_line(line) for line in order.lines],
        "paypal_reference": None,
        "installment_payment": False,
        "payment_method": "CARD",
    }
    if order.shipped is None:
        entry["expected_dispatch_date"] = bm_time(order.created + 2 * 86_400)
    return entry
