"""Amazon's Buyer-Seller Messaging relay (docs/SANDBOX.md): buyers' mails to a seller's address."""

from __future__ import annotations

import random
import uuid
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Annotated

import msgspec

from .order_book import OrderBook, OrderState
from .seed import DAY

RECENT_DAYS = 30  # buyers write about recent orders
RELAY_LOG_LIMIT = 10_000  # relay mails remembered for telling replies on a buyer's thread


class RelayRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    selling_partner_id: str
    to: str
    count: Annotated[int, msgspec.Meta(ge=1, le=500)] = 1
    order_ids: list[str] | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None


class SentMessage(msgspec.Struct, rename="camel"):
    order_id: str
    message_id: str
    subject: str
    sender: str
    to: str


def pick_orders(book: OrderBook, rng: random.Random, count: int, now: float) -> list[OrderState]:
    """Recent, not cancelled orders, chosen deterministically from the seed."""
    lo = book.count(now - RECENT_DAYS * DAY)
    hi = book.count(now)
    chosen: list[OrderState] = []
    for _ in range(count * 50):
        if len(chosen) == count or hi <= lo:
            break
        state = book.state(rng.randrange(lo, hi), now)
        if state is not None and state.status != "Canceled":
            chosen.append(state)
    return chosen


def compose(book: OrderBook, state: OrderState, rng: random.Random, to: str) -> EmailMessage:
    tpl = book.gen.lang.relay_mail
    facts = state.facts
    item = facts.items[0]
    first_name = facts.buyer_name.split()[0]
    body = (
        f"{tpl.begin}\n\n{rng.choice(tpl.texts)}\n\n{tpl.end}\n\n"
        f"{tpl.order_label} : {facts.order_id}\n{tpl.item_label} : {item.product.title}\n"
        f"ASIN : {item.product.asin}\n{tpl.quantity_label} : {item.quantity}\n\n{tpl.closing}\n"
    )
    message = EmailMessage()
    message["From"] = formataddr((f"{first_name} - Amazon Marketplace", facts.buyer_email))
    message["To"] = to
    message["Subject"] = tpl.subject.format(name=first_name, order_id=facts.order_id)
    message["Date"] = formatdate(usegmt=True)
    region = "eu-west-1" if book.gen.marketplace.region == "eu" else "us-east-1"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{region}.amazonses.com>"
    message.set_content(body, cte="quoted-printable")
    return message
