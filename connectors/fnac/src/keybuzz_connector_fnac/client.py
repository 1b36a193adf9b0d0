"""Fnac/Darty's client on the kit's requester, and its answers read (docs/FNAC.md)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Unpack

import httpx
import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.connectors.kit import HeaderAuth, Node, Redacted
from keybuzz_shared.mended import NOT_XML_CHARS
from keybuzz_shared.ticket_topics import Subject
from keybuzz_shared.times import as_utc
from lxml import etree

from keybuzz_connector_fnac import models

NS = "http://www.fnac.com/schemas/mp-dialog.xsd"
LOGIN = "auth"  # the service that trades the shop's key for a token
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a 100-order page is ~0.4 MB
# A bounded page's envelope (docs/FNAC.md, "Limits and assumptions"; ``Paged.ITEM_BYTES``).
ENVELOPE_BYTES = 64 * 1024
# Its codes are the double's (docs/FNAC.md, "Limits and assumptions"); messages_update's
# ERROR without errors of its own leaves each message's to the caller.
ENVELOPE = Node.StatusEnvelope(
    ns=NS,
    unreadable=models.FnacProtocolError,
    accepting=frozenset({"OK", "ACTIVE", "RUNNING", "WARNING"}),
    refusing=frozenset({"ERROR", "FATAL"}),
    later=frozenset({"ERR_004"}),
    token=frozenset({"ERR_002"}),
    per_item=frozenset({"messages_update_response"}),
)
# The root element of a Fnac response (the kit's guard); FnacProtocolError else.
parse = functools.partial(ENVELOPE.parse, max_bytes=MAX_RESPONSE_BYTES)


# --- requests: each written from its declared Struct in one pass (docs/FNAC.md) ---------
# What a pasted soft line break (U+000B) or page break (U+000C) stands for.
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})


def xml_text(text: str) -> str:
    """``text`` with each character XML 1.0 cannot hold replaced by U+FFFD."""
    return NOT_XML_CHARS.sub("\ufffd", text)


def carried(text: str) -> str:
    """``text`` as a message kept in XML carries it (what Fnac stores and lists back: a reply
    is made so before it is sent, and compared so when read)."""
    return NOT_XML_CHARS.sub("", text.translate(_LINE_BREAKS))


def xml_instant(moment: datetime) -> str:
    """xs:dateTime with its offset, in UTC, to the second (a naive one is taken as UTC)."""
    return as_utc(moment).isoformat(timespec="seconds")


def request(ns: str, root: str, attributes: Mapping[str, str], declared: msgspec.Struct) -> bytes:
    """The request ``<root>`` in namespace ``ns`` (no prefix): ``attributes``, then ``declared``."""
    element = etree.Element(f"{{{ns}}}{root}", attrib=dict(attributes), nsmap={None: ns})
    if _write(element, declared):
        raise TypeError(f"<{root}> holds elements, not a text")
    return bytes(etree.tostring(element, xml_declaration=True, encoding="utf-8"))


def _write(element: etree._Element, declared: msgspec.Struct) -> bool:
    """``declared`` written into ``element``; whether it wrote a text."""
    text, ns = False, etree.QName(element).namespace
    for field in _fields(type(declared)):
        value, name = getattr(declared, field.name), field.encode_name
        if value is None or value == ():
            continue
        if name.startswith("@"):
            element.set(name[1:], str(value))
        elif name == ".":
            element.text, text = xml_text(str(value)), True
        else:
            wrapper, _, name = name.rpartition("/")  # "a/b": each a "b" within one "a"
            parent = etree.SubElement(element, f"{{{ns}}}{wrapper}") if wrapper else element
            for item in value if type(value) is tuple else (value,):
                child = etree.SubElement(parent, f"{{{ns}}}{name}")
                if isinstance(item, msgspec.Struct):
                    _write(child, item)
                else:
                    child.text = xml_text(str(item))
    return text


_fields = functools.cache(msgspec.structs.fields)


# --- reading ------------------------------------------------------------------------------
def read_page(root: etree._Element, item: str) -> models.Listed:
    """A listing's page: its paging and its ``item`` nodes, raw (read by the listing)."""
    node = ENVELOPE.node(root)
    return models.Listed(node.decode(models.Paging), tuple(map(_alone, node.all(item))))


def _alone(item: Node) -> Node:
    """``item`` read on its own: off its shape, a ValueError naming it (it costs only
    itself, not the page)."""

    def off_shape(reason: str) -> ValueError:
        ident = item.element.get("id") or item.text(f"{item.name}_id") or "?"
        return ValueError(f"{item.name} {ident}: {reason}")

    return Node(item.element, NS, off_shape)


# A kind of sender Fnac may add later is kept as a notification, never lost.
SENDERS: dict[str, seam.SenderType] = {
    "CLIENT": "BUYER",
    "CALLCENTER": "MARKETPLACE_SUPPORT",
    "SELLER": "SELLER",
}
# Fnac's ``message_subject`` → the ticket's subject (docs/FNAC.md, "Ticket topics").
MESSAGE_SUBJECTS: dict[str, Subject] = {
    "product_information": "PRODUCT_QUESTION",
    "shipping_information": "WHERE_IS_MY_ORDER",
    "offer_not_received": "WHERE_IS_MY_ORDER",
    "offer_problem": "DAMAGED_OR_WRONG_ITEM",
}


def read_message(node: Node) -> seam.InboxMessage:
    """A message as the seam's (docs/FNAC.md, "The connector seam"): a referer of another
    type than an order or an offer names no thread we know (an empty id)."""
    referer = node.child("message_referer")
    kind = referer.element.get("type") or "ORDER"
    sender = node.get("message_from")
    subject = node.text("message_subject") or ""
    return seam.InboxMessage(
        message_id=node.required("message_id"),
        thread=seam.ThreadKey(
            kind="OFFER" if kind == "OFFER" else "ORDER",
            id=(referer.element.text or "").strip() if kind in ("ORDER", "OFFER") else "",
        ),
        sender_type=SENDERS.get("" if sender is None else sender.get("type", ""), "SYSTEM"),
        sender_name=node.text("message_from"),
        subject=subject,
        body=node.text("message_description", strip=False) or "",
        created_at=node.required_datetime("created_at"),
        unread=node.element.get("state") != "READ",
        ticket_subject=MESSAGE_SUBJECTS.get(subject.lower()),
        files=tuple(map(_file, node.all("message_file"))),
    )


def _file(node: Node) -> seam.InboxFile:
    """A file a message links, its media type Fnac's when it is one, else its name's."""
    name, given = node.text("name") or "", node.text("filetype")
    given_type = given.lower() if given and "/" in given else None
    return seam.InboxFile(
        name=name, url=node.required("url"), content_type=given_type or kit.media_type_of(name)
    )


# An incident line's type (state.xsd ``incident_open_state``) → the ticket's subject.
INCIDENT_SUBJECTS: dict[str, Subject] = {
    "1": "WHERE_IS_MY_ORDER",  # article not received
    "2": "DAMAGED_OR_WRONG_ITEM",  # inconsistent with the item
    "3": "DAMAGED_OR_WRONG_ITEM",  # defective item
    "4": "RETURN_OR_REFUND",  # retraction
}


def read_incident(node: Node) -> seam.InboxIncident:
    """An incident as the seam's, its subject the one its first known line type says."""
    header = node.child("header")
    types = tuple(
        line.text("type") or ""
        for lines in node.all("order_details_incident")[:1]
        for line in lines.all("order_detail_incident")
    )
    return header.decode(
        seam.InboxIncident,
        incident_id=node.element.get("id") or header.required("incident_id"),
        types=tuple(dict.fromkeys(types)),
        ticket_subject=next((INCIDENT_SUBJECTS[t] for t in types if t in INCIDENT_SUBJECTS), None),
        waiting_for_seller=header.text("waiting_for_seller_answer") == "TRUE",
        message=header.text("message", strip=False) or "",
    )


# --- the client ---------------------------------------------------------------------------
log = logging.getLogger(__name__)


class FnacCredentials(Redacted, frozen=True):
    """A shop's credentials, as auth's request holds them (its key masked, never quoted)."""

    SECRETS = frozenset({"key"})
    partner_id: str
    shop_id: str
    key: str


SPEC = ENVELOPE.spec(
    "Fnac",
    log,
    login=LOGIN,
    credentials_refused=models.FnacCredentialsRefused,
    refused=models.FnacRequestRefused,
    max_response_bytes=MAX_RESPONSE_BYTES,
)


class FnacClient(kit.Requester):
    """One shop's calls, on one token renewed when refused (``options``: the requester's)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        credentials: FnacCredentials,
        **options: Unpack[kit.Requester.Options],
    ) -> None:
        self.credentials = credentials
        ids = {"partner_id": credentials.partner_id, "shop_id": credentials.shop_id}

        async def log_in() -> models.AuthToken:
            answer = await self.service(LOGIN, credentials, login=True)
            return ENVELOPE.node(answer.root).decode(models.AuthToken)

        self.tokens = HeaderAuth.LoginToken(
            log_in,
            lambda grant: grant.token,
            carry=lambda token: {**ids, "token": token},
            secrets=[getattr(credentials, name) for name in FnacCredentials.SECRETS],
        )
        shop = {"shop_id": credentials.shop_id}
        super().__init__(SPEC, self.tokens, http, base_url, shop=shop, **options)

    async def service(
        self, service: str, asked: msgspec.Struct, **how: Any
    ) -> Node.StatusEnvelope.Answer:
        """``service``'s answer to ``asked``, accepted by Fnac's envelope."""
        body = functools.partial(request, NS, service, declared=asked)
        answer: Node.StatusEnvelope.Answer = await self.request(
            "POST", service, name=service, body=body, **how
        )
        ENVELOPE.expect_root(answer.root, service)
        return answer

    async def listed(self, asked: models.Paged) -> models.Listed:
        """A page of ``asked``'s listing; a bounded one (``ITEM_BYTES``) is capped, and refused
        if it lists more than asked, never cut: Fnac ignoring the page size would skip items."""
        size, item, each = asked.results_count, asked.ITEM, asked.ITEM_BYTES
        cap = 0 if each is None else min(ENVELOPE_BYTES + size * each, self._max_bytes)
        page = read_page((await self.service(asked.SERVICE, asked, max_bytes=cap)).root, item)
        if each is not None and len(page.items) > size:
            extra = {**self.shop, "listed": len(page.items), "asked": size}
            log.warning("Fnac listed more %ss than asked; page refused", item, extra=extra)
            raise models.FnacProtocolError(f"{len(page.items)} {item}s listed, {size} asked")
        return page

    async def messages_update(
        self, updates: Sequence[models.MessageUpdate]
    ) -> tuple[models.MessageUpdateResult, ...]:
        """One result per message (each may be refused on its own, with its codes)."""
        sends = any(update.action == "reply" for update in updates)  # a reply: never sent twice
        asked = models.MessagesUpdate(tuple(updates))
        answer = await self.service("messages_update", asked, idempotent=not sends)
        return tuple(
            message.decode(
                models.MessageUpdateResult, errors=ENVELOPE.errors(message, answer.redact)
            )
            for message in ENVELOPE.node(answer.root).all("message")
        )
