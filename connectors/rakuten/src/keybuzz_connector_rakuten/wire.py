"""Rakuten France's XML answers as the kit's requester reads them (``ANSWERS``: the kit's
XML guard, then the ``errorresponse`` envelope), and its shapes mapped to the seam's:
an item's messages and Rakuten's mails (getiteminfos) to one thread per item, a sale
(getcurrentsales) to an order. Every element is read whatever its namespace. Each shape's
source is marked in docs/RAKUTEN.md (official, observed, assumed)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.kit.answers import Refusal
from keybuzz_shared.connectors.kit.shown_details import shown
from keybuzz_shared.connectors.kit.xml_answers import Element, answer_root
from keybuzz_shared.connectors.seam import (
    InboxMessage,
    OrderLine,
    OrderSummary,
    Reply,
    SenderType,
    ThreadKey,
    ThreadStanding,
)

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
# What XML 1.0 cannot carry: a reply's text as Rakuten's documents list it back.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Rakuten's item states (``itemstatus``) → the seam's order and delivery statuses [assumed].
STATES: dict[str, tuple[str, str | None]] = {
    "REQUESTED": ("PENDING", None),
    "ON_HOLD": ("PENDING", None),
    "ACCEPTED": ("CONFIRMED", "PREPARING"),
    "SHIPPED": ("SHIPPED", "SHIPPED"),
    "RECEIVED": ("DELIVERED", "DELIVERED"),
    "CLOSED": ("DELIVERED", "DELIVERED"),
    "RETURNED": ("RETURNED", None),
    "REFUSED": ("CANCELLED", None),
    "CANCELLED": ("CANCELLED", None),
}


def carried(text: str) -> str:
    """``text`` as a Rakuten message carries it: what XML cannot hold left out."""
    return _NOT_XML.sub("", text)


class Answer(NamedTuple):
    """A parsed answer: its root, and what its error envelope says, secrets masked."""

    root: Element
    refused: Refusal | None


def _find(element: Element, path: str) -> Element | None:
    return element.find("/".join(f"{{*}}{step}" for step in path.split("/")))


def _all(element: Element, path: str) -> list[Element]:
    return list(element.iterfind("/".join(f"{{*}}{step}" for step in path.split("/"))))


def text(element: Element, path: str) -> str | None:
    found = _find(element, path)
    value = None if found is None or found.text is None else found.text.strip()
    return value or None


def required(element: Element, path: str) -> str:
    value = text(element, path)
    if value is None:
        raise ValueError(f"<{_local(element)}> lacks <{path}>")
    return value


def moment(value: str) -> datetime:
    """A Rakuten date ("25/11/2026-14:05", Paris time) in UTC; ValueError for another."""
    return datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=PARIS).astimezone(UTC)


def _local(element: Element) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


class RakutenAnswers:
    """Rakuten's answers for the kit's requester (kit/answers.py): XML in UTF-8, its
    refusals an ``errorresponse`` of ``<error>``s (type, code, message, details) [official]."""

    content_type = "text/xml; charset=utf-8"

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> Answer:
        root = answer_root(
            content, lambda reason: ERRORS.unreadable("sales_ws", reason), max_bytes=max_bytes
        )
        if _local(root) != "errorresponse":
            return Answer(root, None)
        errors = _all(root, "error")
        codes = [text(e, "code") or "" for e in errors]
        said = "; ".join(
            " ".join(filter(None, [text(e, "code"), text(e, "message"), *_details(e)]))
            for e in errors
        )
        later = bool(codes) and all(c in LATER_CODES for c in codes)
        return Answer(root, Refusal(redact(said or "an error without a reason"), later))

    def refusal(self, document: Answer) -> Refusal | None:
        return document.refused


def _details(error: Element) -> list[str]:
    return [d.text.strip() for d in _all(error, "details/detail") if d.text and d.text.strip()]


def refused(call: str, status: int, document: Any) -> Exception:
    """Rakuten's refusal as the seam's: its login or token refused, or the call refused
    with Rakuten's own words (its codes first)."""
    if isinstance(document, Answer) and document.refused is not None:
        codes = {text(e, "code") for e in _all(document.root, "error")}
        if codes & CREDENTIAL_CODES:
            return ERRORS.credentials_refused(f"{call}: {document.refused.reason}")
        return ERRORS.refused(call, status, document.refused.reason)
    if status in (401, 403):
        return ERRORS.credentials_refused(f"{call}: HTTP {status}")
    return ERRORS.refused(call, status, f"HTTP {status}")


SPEC = kit.ApiSpec(
    LABEL,
    logging.getLogger(__name__),
    ERRORS,
    kit.Refusals(credentials=frozenset({401, 403}), error=refused),
    max_response_bytes=16 * 1024 * 1024,
    answers=RakutenAnswers(),
    misaddressed="RAKUTEN_API_URL should be the web services' host",
)


def response(answer: Answer, result: str) -> Element:
    """The ``<response>`` of an answer whose root is ``result``; unreadable otherwise."""
    if _local(answer.root) != result or (found := _find(answer.root, "response")) is None:
        raise ERRORS.unreadable(result, f"expected <{result}> with a <response>")
    return found


# --- items to do ----------------------------------------------------------------------------


def todo_items(answer: Answer) -> list[str]:
    """The item ids getitemtodolist lists (each once, in their order)."""
    found = response(answer, "getitemtodolistresult")
    ids = (text(item, "itemid") for item in _all(found, "items/item"))
    return list(dict.fromkeys(i for i in ids if i))


# --- an item's thread -----------------------------------------------------------------------


class Item(NamedTuple):
    """getiteminfos' item: its thread's messages, its state, the parent of a reply to
    Rakuten's customer service (its latest mail's ``mailid``)."""

    messages: tuple[InboxMessage, ...]
    unreadable: tuple[str, ...]
    latest_mail: str | None


def item_of(answer: Answer, login: str) -> Item:
    found = response(answer, "getiteminfosresult")
    item = _find(found, "item")
    if item is None:
        raise ERRORS.unreadable("getiteminfos", "<response> lacks <item>")
    item_id = required(item, "itemid")
    thread = ThreadKey("DISCUSSION", item_id, text(found, "purchaseid"))
    standing = standing_of(found, item)
    said: list[InboxMessage] = []
    unreadable: list[str] = []
    mails: list[tuple[datetime, str]] = []
    for kind, element in [("message", m) for m in _all(item, "message")] + [
        ("mail", m) for m in _all(item, "mail")
    ]:
        try:
            message = _message(kind, element, thread, standing, login)
        except ValueError as exc:
            unreadable.append(f"item {item_id}'s {kind}: {exc}")
            continue
        said.append(message)
        if kind == "mail" and (mail_id := text(element, "mailid")):
            mails.append((message.created_at, mail_id))
    said.sort(key=lambda m: m.created_at)
    latest = max(mails)[1] if mails else None
    return Item(tuple(said), tuple(unreadable), latest)


def standing_of(found: Element, item: Element) -> ThreadStanding:
    """The item's state as thread details [assumed shapes: docs/RAKUTEN.md]."""
    claim = _find(item, "claim")
    claim_status = text(claim, "status") if claim is not None else None
    amicable = claim is not None and (text(claim, "amicable") or "").lower() in ("true", "1", "oui")
    ordered, received = text(found, "purchasedate"), text(found, "item/receiveddate")
    details = shown(
        ("item_status", "État de l'article", text(item, "itemstatus")),
        ("claim", "Réclamation", claim_status),
        ("claim_amicable", "Réclamation amiable", "oui" if claim_status and amicable else None),
        ("ordered_at", "Commandé le", moment(ordered).isoformat() if ordered else None),
        ("received_at", "Reçu le", moment(received).isoformat() if received else None),
    )
    return ThreadStanding(details=details, claim=(claim_status or "").upper() == "OPEN")


def _message(
    kind: str, element: Element, thread: ThreadKey, standing: ThreadStanding, login: str
) -> InboxMessage:
    sender = required(element, "sender")
    created = moment(required(element, "senddate"))
    body = text(element, "content") or ""
    mail_id = text(element, "mailid") if kind == "mail" else None
    digest = hashlib.sha256(
        "\x1f".join((thread.id, kind, sender, created.isoformat(), body)).encode()
    ).hexdigest()[:24]
    subject = text(element, "object") or f"Article {thread.id}"
    return InboxMessage(
        message_id=f"{thread.id}:mail:{mail_id}" if mail_id else f"{thread.id}:{kind}:{digest}",
        thread=thread,
        sender_type=sender_type(sender, login),
        sender_name=sender,
        subject=subject,
        body=body,
        created_at=created,
        unread=(text(element, "status") or "").upper() == "UNREAD",
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
    """Why Rakuten would refuse ``reply`` on an item standing so [official]: to the buyer,
    an item under a claim (unless amicable), declared received more than 15 days ago or
    ordered more than 42 days ago; to its customer service, received more than 30 days ago."""
    received, ordered = _dated(standing, "received_at"), _dated(standing, "ordered_at")
    if reply.recipient == "MARKETPLACE_SUPPORT":
        if received and now - received > timedelta(days=SUPPORT_DAYS_RECEIVED):
            return (
                f"Rakuten's customer service takes no message about an item received more "
                f"than {SUPPORT_DAYS_RECEIVED} days ago (received {received:%d/%m/%Y})"
            )
        return None
    if standing.claim:
        if standing.detail("claim_amicable") == "oui":
            return None
        return (
            "Rakuten takes no message to the buyer while a claim is open on the item "
            "(unless it is amicable): write to Rakuten's customer service"
        )
    if received and now - received > timedelta(days=BUYER_DAYS_RECEIVED):
        return (
            f"Rakuten takes no message to the buyer of an item received more than "
            f"{BUYER_DAYS_RECEIVED} days ago (received {received:%d/%m/%Y})"
        )
    if ordered and now - ordered > timedelta(days=BUYER_DAYS_ORDERED):
        return (
            f"Rakuten takes no message to the buyer of an item ordered more than "
            f"{BUYER_DAYS_ORDERED} days ago (ordered {ordered:%d/%m/%Y})"
        )
    return None


def _dated(standing: ThreadStanding, name: str) -> datetime | None:
    value = standing.detail(name)
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


# --- sales ----------------------------------------------------------------------------------


def sales_page(answer: Answer) -> tuple[list[Element], str | None]:
    """getcurrentsales' sales and the token of its next page (None: the last)."""
    found = response(answer, "getcurrentsalesresult")
    return _all(found, "sales/sale"), text(found, "nexttoken")


def order_of(sale: Any) -> OrderSummary:
    """One sale as the seam's order: its items its lines, each item's state mapped
    (``STATES``), the sale's the least advanced of its items not cancelled."""
    purchase = required(sale, "purchaseid")
    created = moment(required(sale, "purchasedate"))
    lines = tuple(_line(item) for item in _all(sale, "items/item"))
    if not lines:
        raise ValueError(f"sale {purchase} lists no item")
    live = [line for line in lines if line.status != "CANCELLED"] or list(lines)
    order = ("PENDING", "CONFIRMED", "SHIPPED", "DELIVERED", "RETURNED", "CANCELLED")
    first = min(live, key=lambda line: order.index(line.status))
    return OrderSummary(
        external_id=purchase,
        state=first.state,
        created_at=created,
        updated_at=created,
        lines=lines,
        status=first.status,
        delivery_status=STATES.get(first.state, ("PENDING", None))[1],
    )


def _line(item: Element) -> OrderLine:
    state = required(item, "itemstatus").upper()
    try:
        price = Decimal(text(item, "price/amount") or "")
    except InvalidOperation:
        price = None
    return OrderLine(
        line_id=required(item, "itemid"),
        state=state,
        product_name=text(item, "headline") or "",
        quantity=1,  # a Rakuten item is one unit of an advert [assumed]
        seller_sku=text(item, "sku"),
        status=STATES.get(state, ("PENDING", None))[0],
        unit_price=price,
        currency=text(item, "price/currency"),
    )
