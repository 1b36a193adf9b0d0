"""Fnac's XML, both ways: requests built, responses parsed safely and read into models.

No entity is ever declared, expanded or fetched: answers are parsed by the kit's XML
guard (keybuzz_shared.connectors.kit.xml_answers; docs/FNAC.md, "XML safety"), in UTF-8,
the only encoding Fnac answers in, within ``MAX_RESPONSE_BYTES`` (the client stops reading
a longer body). ``ANSWERS`` is how the kit's requester reads them: the document and what
its envelope (its root's ``status`` and ``<error>``s) says of the call.

Where the XSDs and the responses Fnac really sends disagree, the responses win: a
messages_query_response has page/total_paging/nb_total_* (not messages_*_result), and
Fnac writes hours with one digit ("T9:50:04+01:00").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple, TypeAlias, TypeVar

from keybuzz_shared.connectors.kit.answers import Garbled, Refusal
from keybuzz_shared.connectors.kit.xml_answers import Node, garbled, parse_guarded
from keybuzz_shared.connectors.kit.xml_answers import parse_datetime as kit_datetime
from keybuzz_shared.redaction import redact_text
from lxml import etree

from keybuzz_connector_fnac.models import (
    MAX_ORDER_IDS,
    AuthToken,
    DateRange,
    FnacErrorDetail,
    FnacProtocolError,
    Incident,
    IncidentsPage,
    IncidentsQuery,
    Message,
    MessageFile,
    MessagesPage,
    MessagesQuery,
    MessageUpdate,
    MessageUpdateResult,
    Order,
    OrderDetail,
    OrdersPage,
    OrdersQuery,
    Paging,
)

NS = "http://www.fnac.com/schemas/mp-dialog.xsd"
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a 100-order page is ~0.4 MB
OK_STATUSES = frozenset({"OK", "ACTIVE", "RUNNING", "WARNING"})
REFUSED_STATUSES = frozenset({"ERROR", "FATAL"})
# Fnac publishes no list of its codes; these are the sandbox double's (docs/SANDBOX.md).
# "Later": the call is retried like a 429 (which the double sends with it).
TRANSIENT_CODES = frozenset({"ERR_004"})
ERROR_TEXT_CHARS = 300  # of each Fnac error text kept

Element: TypeAlias = etree._Element
T = TypeVar("T")
N = TypeVar("N", int, Decimal)
_NSMAP = {None: NS}  # the default namespace, as lxml spells it


# --- parsing ------------------------------------------------------------------------------


def parse(data: bytes, *, max_bytes: int = MAX_RESPONSE_BYTES) -> Element:
    """The root element of a Fnac response; FnacProtocolError for anything else (the
    kit's guard: no DTD, no entity, UTF-8 only, ``max_bytes`` at most)."""
    root = parse_guarded(data, FnacProtocolError, max_bytes=max_bytes)
    if etree.QName(root).namespace != NS:
        raise FnacProtocolError(f"root <{etree.QName(root).localname}> is not in {NS}")
    return root


def local_name(element: Element) -> str:
    return str(etree.QName(element).localname)


def _kept(text: str) -> str:
    return text


def read_envelope(
    root: Element, redact: Callable[[str], str] = _kept
) -> tuple[str, tuple[FnacErrorDetail, ...]]:
    """The response's status and its ``<error>``s (their texts through ``redact``)."""
    status = root.get("status")
    if status is None:
        raise FnacProtocolError(f"<{local_name(root)}> has no status")
    if status not in OK_STATUSES and status not in REFUSED_STATUSES:
        raise FnacProtocolError(f"unknown status {status!r}")
    return status, _errors(root, redact)


def _errors(element: Element, redact: Callable[[str], str]) -> tuple[FnacErrorDetail, ...]:
    """Fnac's error texts without a secret it may echo (removed before shortening, so no
    part of one is left)."""
    return tuple(
        FnacErrorDetail(
            code=error.get("code") or "",
            severity=error.get("severity") or "",
            text=redact(redact_text((error.text or "").strip()))[:ERROR_TEXT_CHARS],
        )
        for error in element.iterfind(_q("error"))
    )


class Answer(NamedTuple):
    """A Fnac answer as the requester read it: its root, status and errors, and the
    ``redact`` its texts go through."""

    root: Element
    status: str
    errors: tuple[FnacErrorDetail, ...]
    redact: Callable[[str], str]


class FnacAnswers:
    """Fnac's answers for the kit's requester (kit/answers.py)."""

    content_type = "text/xml; charset=utf-8"

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> Answer:
        try:
            root = parse(content, max_bytes=max_bytes)
        except FnacProtocolError as exc:
            if garbled(exc.reason):
                raise Garbled(exc.reason) from None
            raise
        return Answer(root, *read_envelope(root, redact), redact)

    def refusal(self, answer: Answer) -> Refusal | None:
        """ERROR or FATAL; but messages_update answers ERROR when one of its messages was
        refused, each message with its own errors: then the caller reads them."""
        if answer.status not in REFUSED_STATUSES:
            return None
        if local_name(answer.root) == "messages_update_response" and not answer.errors:
            return None
        codes = {error.code for error in answer.errors}
        reason = f"{answer.status} {', '.join(sorted(codes))}".strip()
        return Refusal(reason, later=bool(codes & TRANSIENT_CODES))


ANSWERS = FnacAnswers()


def expect_root(root: Element, service: str) -> None:
    if local_name(root) != f"{service}_response":
        raise FnacProtocolError(f"expected <{service}_response>, got <{local_name(root)}>")


def read_auth(root: Element) -> AuthToken:
    node = _node(root)
    token = node.text("token")
    if not token:
        raise FnacProtocolError("auth_response without a token")
    return AuthToken(token=token, validity=node.datetime("validity"))


def read_messages(root: Element) -> MessagesPage:
    messages, unreadable = _each(root, "message", _message)
    return MessagesPage(paging=_paging(root), messages=messages, unreadable=unreadable)


def read_orders(root: Element) -> OrdersPage:
    orders, unreadable = _each(root, "order", _order)
    return OrdersPage(paging=_paging(root), orders=orders, unreadable=unreadable)


def read_incidents(root: Element) -> IncidentsPage:
    incidents, unreadable = _each(root, "incident", _incident)
    return IncidentsPage(paging=_paging(root), incidents=incidents, unreadable=unreadable)


def read_message_updates(
    root: Element, redact: Callable[[str], str] = _kept
) -> tuple[MessageUpdateResult, ...]:
    return tuple(
        MessageUpdateResult(
            message_id=element.get("id"),
            status=element.get("status") or "",
            errors=_errors(element, redact),
        )
        for element in root.iterfind(_q("message"))
    )


def _each(
    root: Element, name: str, read: Callable[[Node], T]
) -> tuple[tuple[T, ...], tuple[str, ...]]:
    """One item in an unexpected shape is one reason (with its id), not a lost page."""
    items: list[T] = []
    unreadable: list[str] = []
    for element in root.iterfind(_q(name)):
        node = _node(element)
        try:
            items.append(read(node))
        except FnacProtocolError as exc:
            ident = element.get("id") or node.text(f"{name}_id") or "?"
            unreadable.append(f"{name} {ident}: {exc.reason}")
    return tuple(items), tuple(unreadable)


def _paging(root: Element) -> Paging:
    """A response without paging elements (a plain list) is one page."""
    node = _node(root)
    page = node.int("page")
    total = node.int("total_paging")
    return Paging(
        page=page if page is not None else 1,
        total_paging=total if total is not None else 1,
        nb_total_result=node.int("nb_total_result"),
    )


def _message(node: Node) -> Message:
    referer = node.child("message_referer").element
    sender = node.get("message_from")
    return Message(
        message_id=node.required("message_id"),
        referer_type=referer.get("type") or "ORDER",
        referer=(referer.text or "").strip(),
        from_type=(sender.get("type") or "SYSTEM") if sender is not None else "SYSTEM",
        from_name=((sender.text or "").strip() or None) if sender is not None else None,
        subject=node.text("message_subject") or "",
        description=node.text("message_description", strip=False) or "",
        created_at=node.required_datetime("created_at"),
        read=node.element.get("state", "UNREAD") == "READ",
        files=tuple(
            MessageFile(
                name=file.text("name") or "",
                url=file.required("url"),
                filetype=file.text("filetype"),
            )
            for file in node.all("message_file")
        ),
    )


def _order(node: Node) -> Order:
    return Order(
        order_id=node.required("order_id"),
        shop_id=node.text("shop_id"),
        state=node.required("state"),
        created_at=node.required_datetime("created_at"),
        client_firstname=node.text("client_firstname"),
        client_lastname=node.text("client_lastname"),
        details=tuple(_order_detail(d) for d in node.all("order_detail")),
    )


def _order_detail(node: Node) -> OrderDetail:
    return OrderDetail(
        order_detail_id=node.required("order_detail_id"),
        state=node.required("state"),
        product_name=node.text("product_name") or "",
        quantity=node.int("quantity") or 0,
        price=node.decimal("price"),
        offer_seller_id=node.text("offer_seller_id"),
        tracking_number=node.text("tracking_number"),
        created_at=node.datetime("created_at"),
        debited_at=node.datetime("debited_at"),
        received_at=node.datetime("received_at"),
        refused_at=node.datetime("refused_at"),
        shipped_at=node.datetime("shipped_at"),
    )


def _incident(node: Node) -> Incident:
    header = node.child("header")
    lines = node.get("order_details_incident")
    return Incident(
        incident_id=node.element.get("id") or header.required("incident_id"),
        order_id=header.required("order_id"),
        status=header.required("status"),
        waiting_for_seller_answer=header.text("waiting_for_seller_answer") == "TRUE",
        message=header.text("message", strip=False) or "",
        opened_by=header.text("opened_by"),
        created_at=header.required_datetime("created_at"),
        updated_at=header.required_datetime("updated_at"),
        line_types=()
        if lines is None
        else tuple(line.text("type") or "" for line in _node(lines).all("order_detail_incident")),
    )


# --- element access -----------------------------------------------------------------------


@functools.cache
def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _node(element: Element) -> Node:
    return Node(element, NS, FnacProtocolError)


def parse_datetime(text: str, name: str = "date") -> datetime:
    """xs:dateTime as Fnac writes it (hours may have one digit; no zone means UTC)."""
    return kit_datetime(text, FnacProtocolError, name)


# --- building -----------------------------------------------------------------------------


def auth_request(partner_id: str, shop_id: str, key: str) -> bytes:
    root = etree.Element(_q("auth"), nsmap=_NSMAP)
    for name, value in (("partner_id", partner_id), ("shop_id", shop_id), ("key", key)):
        etree.SubElement(root, _q(name)).text = value
    return _serialize(root)


def _request(service: str, header: Mapping[str, str], results_count: int | None) -> Element:
    attributes = dict(header)
    if results_count is not None:
        attributes["results_count"] = str(results_count)
    return etree.Element(_q(service), attrib=attributes, nsmap=_NSMAP)


def _add(parent: Element, name: str, text: str | None = None, **attributes: str) -> Element:
    element = etree.SubElement(parent, _q(name), attrib=attributes)
    if text is not None:
        element.text = xml_text(text)
    return element


def _add_date(parent: Element, date: DateRange) -> None:
    element = _add(parent, "date", type=date.type)
    if date.min is not None:
        _add(element, "min", format_datetime(date.min))
    if date.max is not None:
        _add(element, "max", format_datetime(date.max))


def messages_query_request(header: Mapping[str, str], query: MessagesQuery) -> bytes:
    root = _request("messages_query", header, query.results_count)
    _add(root, "paging", str(query.page))
    if query.created is not None:
        _add_date(root, DateRange(type="CreatedAt", min=query.created[0], max=query.created[1]))
    if query.message_type is not None:
        _add(root, "message_type", query.message_type)
    for order_id in query.order_ids:
        _add(root, "order_fnac_id", order_id)
    if query.sort is not None:
        _add(root, "sort_by", "CREATED_AT", type=query.sort)
    if query.from_types:
        types = _add(root, "message_from_types")
        for from_type in query.from_types:
            _add(types, "from_type", from_type)
    return _serialize(root)


def messages_update_request(header: Mapping[str, str], updates: Sequence[MessageUpdate]) -> bytes:
    if not updates:
        raise ValueError("messages_update needs at least one message")
    root = _request("messages_update", header, None)
    for update in updates:
        element = _add(root, "message", id=update.message_id, action=update.action)
        if update.to is not None:
            _add(element, "message_to", update.to)
        if update.subject is not None:
            _add(element, "message_subject", update.subject)
        if update.text is not None:
            _add(element, "message_description", update.text)
        if update.message_type is not None:
            _add(element, "message_type", update.message_type)
    return _serialize(root)


def orders_query_request(header: Mapping[str, str], query: OrdersQuery) -> bytes:
    if len(query.order_ids) > MAX_ORDER_IDS:
        raise ValueError(f"Fnac takes at most {MAX_ORDER_IDS} order ids per query")
    root = _request("orders_query", header, query.results_count)
    _add(root, "paging", str(query.page))
    if query.date is not None:
        _add_date(root, query.date)
    if query.sort is not None:
        _add(root, "sort_by", query.sort)
    if query.order_ids:
        ids = _add(root, "orders_fnac_id")
        for order_id in query.order_ids:
            _add(ids, "order_fnac_id", order_id)
    return _serialize(root)


def incidents_query_request(header: Mapping[str, str], query: IncidentsQuery) -> bytes:
    root = _request("incidents_query", header, query.results_count)
    _add(root, "paging", str(query.page))
    if query.date is not None:
        _add_date(root, query.date)
    if query.sort is not None:
        _add(root, "sort_by", query.sort)
    return _serialize(root)


def format_datetime(moment: datetime) -> str:
    """xs:dateTime with its offset, in UTC (a naive date-time is taken as UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=0).isoformat()


# Characters an XML 1.0 document cannot hold (C0 controls but tab and line ends, U+FFFE,
# U+FFFF, lone surrogates).
NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with each character XML 1.0 cannot hold (control characters, lone
    surrogates) replaced by U+FFFD."""
    return NOT_XML_CHARS.sub("\ufffd", text)


def _serialize(root: Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
