"""Rakuten France's XML answers (``ANSWERS``), mapped to the seam's: an item's messages and
mails to one thread, a sale to an order (each shape's source in docs/RAKUTEN.md)."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.kit import Node, shown
from keybuzz_shared.connectors.seam import (
    InboxMessage,
    OrderLine,
    OrderSummary,
    Reply,
    SenderType,
    ThreadKey,
    ThreadStanding,
)
from keybuzz_shared.mended import NOT_XML_CHARS

LABEL = "Rakuten"
ERRORS = kit.CallErrors.labelled(LABEL, credentials="login or token")
# Rakuten dates to the minute, in Paris time [observed: cnsi-sd/crm reads "d/m/Y-H:i"].
DATE_FORMAT = "%d/%m/%Y-%H:%M"
PARIS = ZoneInfo("Europe/Paris")
# Who Rakuten's customer service is, as an item's messages and mails name their sender
# [observed: cnsi-sd/crm, author "Rakuten" = the marketplace's operator].
SUPPORT_SENDER = "Rakuten"
# The error codes that mean the login or its token [assumed: Rakuten lists ParameterError
# and ServerError; a refused token is worded as one of these].
CREDENTIAL_CODES = frozenset({"InvalidCredentials", "AuthenticationError"})
LATER_CODES = frozenset({"ServerError"})  # [official: "Server not able to fullfill request"]
# Whom Rakuten lets the seller write to, and until when (contactuseraboutitem,
# contactusaboutitem [official]).
BUYER_DAYS_RECEIVED, BUYER_DAYS_ORDERED, SUPPORT_DAYS_RECEIVED = 15, 42, 30

# Rakuten's item states (``itemstatus``) → the seam's order and delivery statuses [assumed].
STATES = kit.ListedOrders.States(
    REQUESTED=("PENDING", None),
    ON_HOLD=("PENDING", None),
    ACCEPTED=("CONFIRMED", "PREPARING"),
    SHIPPED=("SHIPPED", "SHIPPED"),
    RECEIVED=("DELIVERED", "DELIVERED"),
    CLOSED=("DELIVERED", "DELIVERED"),
    RETURNED=("RETURNED", None),
    REFUSED=("CANCELLED", None),
    CANCELLED=("CANCELLED", None),
)


def carried(text: str) -> str:
    """``text`` as a Rakuten message carries it: what XML cannot hold left out."""
    return NOT_XML_CHARS.sub("", text)


def moment(value: str) -> datetime:
    """A Rakuten date ("25/11/2026-14:05", Paris time) in UTC; ValueError for another."""
    return datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=PARIS).astimezone(UTC)


# Its answers: a result's root, or an ``errorresponse`` of ``<error>``s (type, code, message,
# details) [official], in any namespace; all of them ``LATER_CODES``: asked again like a 429.
ANSWERS = Node.StatusEnvelope(
    ns=None,
    unreadable=partial(ERRORS.unreadable, "sales_ws"),
    status_at=None,
    accepting=None,
    refusing=frozenset({"errorresponse"}),
    later=LATER_CODES,
    all_later=True,
    error_text=("message", "details/detail"),
)
Answer = Node.StatusEnvelope.Answer


def result(answer: Answer, root: str) -> Node:
    """The ``<response>`` of a ``root`` answer."""
    found = Node(answer.root, None, ValueError)
    if found.name != root or (response := found.get("response")) is None:
        raise ERRORS.unreadable(root, f"expected <{root}> with a <response>")
    return Node(response, None, ValueError)


def refused(call: str, status: int, document: Any) -> Exception:
    """The refusal an answer says, code first (a credentials code: the credentials'), else
    its status's."""
    if isinstance(document, Node.StatusEnvelope.Answer) and document.status in ANSWERS.refusing:
        said = "; ".join(f"{e.code} {e.text}".strip() for e in document.errors)
        reason = said or "an error without a reason"
        if {error.code for error in document.errors} & CREDENTIAL_CODES:
            return ERRORS.credentials_refused(f"{call}: {reason}")
        return ERRORS.refused(call, status, reason)
    if status in (401, 403):
        return ERRORS.credentials_refused(f"{call}: HTTP {status}")
    return ERRORS.refused(call, status, f"HTTP {status}")


SPEC = kit.ApiSpec(
    LABEL,
    logging.getLogger(__name__),
    ERRORS,
    kit.Refusals(credentials=frozenset({401, 403}), error=refused),
    max_response_bytes=16 * 1024 * 1024,
    answers=ANSWERS,
    misaddressed="RAKUTEN_API_URL should be the web services' host",
)


# --- an item's thread -----------------------------------------------------------------------


class Item(NamedTuple):
    """getiteminfos' item: its thread's messages, its state, the parent of a reply to
    Rakuten's customer service (its latest mail's ``mailid``)."""

    messages: tuple[InboxMessage, ...]
    unreadable: tuple[str, ...]
    latest_mail: str | None


def item_of(answer: Answer, login: str) -> Item:
    found = result(answer, "getiteminfosresult")
    item = next(iter(found.all("item")), None)
    if item is None:
        raise ERRORS.unreadable("getiteminfos", "<response> lacks <item>")
    item_id = item.required("itemid")
    thread = ThreadKey("DISCUSSION", item_id, found.text("purchaseid"))
    standing = standing_of(found, item)
    said: list[InboxMessage] = []
    unreadable: list[str] = []
    mails: list[tuple[datetime, str]] = []
    for kind, element in ((k, e) for k in ("message", "mail") for e in item.all(k)):
        try:
            message = _message(kind, element, thread, standing, login)
        except ValueError as exc:
            unreadable.append(f"item {item_id}'s {kind}: {exc}")
            continue
        said.append(message)
        if kind == "mail" and (mail_id := element.text("mailid")):
            mails.append((message.created_at, mail_id))
    said.sort(key=lambda m: m.created_at)
    latest = max(mails)[1] if mails else None
    return Item(tuple(said), tuple(unreadable), latest)


def standing_of(found: Node, item: Node) -> ThreadStanding:
    """The item's state as thread details [assumed shapes: docs/RAKUTEN.md]."""
    claim_status = item.text("claim/status")
    amicable = (item.text("claim/amicable") or "").lower() in ("true", "1", "oui")
    ordered, received = found.text("purchasedate"), found.text("item/receiveddate")
    details = shown(
        ("item_status", "État de l'article", item.text("itemstatus")),
        ("claim", "Réclamation", claim_status),
        ("claim_amicable", "Réclamation amiable", "oui" if claim_status and amicable else None),
        ("ordered_at", "Commandé le", moment(ordered).isoformat() if ordered else None),
        ("received_at", "Reçu le", moment(received).isoformat() if received else None),
    )
    return ThreadStanding(details=details, claim=(claim_status or "").upper() == "OPEN")


def _message(
    kind: str, element: Node, thread: ThreadKey, standing: ThreadStanding, login: str
) -> InboxMessage:
    sender = element.required("sender")
    created = moment(element.required("senddate"))
    body = element.text("content") or ""
    mail_id = element.text("mailid") if kind == "mail" else None
    digest = hashlib.sha256(
        "\x1f".join((thread.id, kind, sender, created.isoformat(), body)).encode()
    ).hexdigest()[:24]
    subject = element.text("object") or f"Article {thread.id}"
    return InboxMessage(
        message_id=f"{thread.id}:mail:{mail_id}" if mail_id else f"{thread.id}:{kind}:{digest}",
        thread=thread,
        sender_type=sender_type(sender, login),
        sender_name=sender,
        subject=subject,
        body=body,
        created_at=created,
        unread=(element.text("status") or "").upper() == "UNREAD",
        thread_details=standing.details,
        claim=standing.claim,
        language="fr",
    )


def sender_type(sender: str, login: str) -> SenderType:
    if sender.casefold() == SUPPORT_SENDER.casefold():
        return "MARKETPLACE_SUPPORT"
    return "SELLER" if sender.casefold() == login.casefold() else "BUYER"


# --- whom a reply may go to -----------------------------------------------------------------


def reply_refusal(reply: Reply, standing: ThreadStanding, now: datetime) -> str | None:
    """Why Rakuten would refuse ``reply`` on an item standing so (docs/RAKUTEN.md, "Replies")."""
    received, ordered = _dated(standing, "received_at"), _dated(standing, "ordered_at")
    if reply.recipient == "MARKETPLACE_SUPPORT":
        support = "Rakuten's customer service takes no message about"
        return _older(support, "received", received, SUPPORT_DAYS_RECEIVED, now)
    if standing.claim:
        if standing.detail("claim_amicable") == "oui":
            return None
        return (
            "Rakuten takes no message to the buyer while a claim is open on the item "
            "(unless it is amicable): write to Rakuten's customer service"
        )
    buyer = "Rakuten takes no message to the buyer of"
    return _older(buyer, "received", received, BUYER_DAYS_RECEIVED, now) or _older(
        buyer, "ordered", ordered, BUYER_DAYS_ORDERED, now
    )


def _older(refusal: str, done: str, at: datetime | None, days: int, now: datetime) -> str | None:
    """``refusal`` of an item ``done`` (received, ordered) ``at``, more than ``days`` ago."""
    if at is None or now - at <= timedelta(days=days):
        return None
    return f"{refusal} an item {done} more than {days} days ago ({done} {at:%d/%m/%Y})"


def _dated(standing: ThreadStanding, name: str) -> datetime | None:
    value = standing.detail(name)
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


# --- sales ----------------------------------------------------------------------------------


def sales_page(answer: Answer) -> tuple[list[Node], str | None]:
    """getcurrentsales' sales and the token of its next page (None: the last)."""
    found = result(answer, "getcurrentsalesresult")
    return found.all("sales/sale"), found.text("nexttoken")


def order_of(sale: Node) -> OrderSummary:
    """One sale as the seam's order: its items its lines, each item's state mapped
    (``STATES``), the sale's the least advanced of its items not cancelled."""
    purchase = sale.required("purchaseid")
    created = moment(sale.required("purchasedate"))
    lines = tuple(_line(item) for item in sale.all("items/item"))
    if not lines:
        raise ValueError(f"sale {purchase} lists no item")
    first = kit.ListedOrders.least_advanced(lines) or lines[0]  # lines[0]: never (lines listed)
    return OrderSummary(
        external_id=purchase,
        state=first.state,
        created_at=created,
        updated_at=created,
        lines=lines,
        status=first.status,
        delivery_status=STATES[first.state][1],
    )


def _line(item: Node) -> OrderLine:
    state = item.required("itemstatus").upper()
    return OrderLine(
        line_id=item.required("itemid"),
        state=state,
        product_name=item.text("headline") or "",
        quantity=1,  # a Rakuten item is one unit of an advert [assumed]
        seller_sku=item.text("sku"),
        status=STATES[state][0],
        unit_price=kit.decimal_of(item.text("price/amount")),
        currency=item.text("price/currency"),
    )
