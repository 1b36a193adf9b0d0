"""Fnac's XML answers: parsed by the kit's XML guard (kit.xml_answers; docs/FNAC.md, "XML safety") in UTF-8, the only encoding
Fnac answers in, within ``MAX_RESPONSE_BYTES``, and read into models, one item off its
shape costing only itself. ``ANSWERS`` is how the kit's requester reads them: the document
and what its envelope (its root's ``status`` and ``<error>``s) says of the call.

Where the XSDs and the responses Fnac really sends disagree, the responses win: a
messages_query_response has page/total_paging/nb_total_* (not messages_*_result), and
Fnac writes hours with one digit ("T9:50:04+01:00").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple, TypeAlias

from keybuzz_shared.connectors.kit.answers import Refusal
from keybuzz_shared.connectors.kit.xml_answers import (
    Node,
    answer_root,
    decode,
    decoding,
    parse_guarded,
)
from keybuzz_shared.connectors.kit.xml_answers import parse_datetime as kit_datetime
from keybuzz_shared.redaction import redact_text
from lxml import etree

from keybuzz_connector_fnac.models import (
    AuthToken,
    FnacErrorDetail,
    FnacProtocolError,
    Incident,
    IncidentsPage,
    Message,
    MessagesPage,
    MessageUpdateResult,
    Order,
    OrdersPage,
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


def parse(data: bytes, *, max_bytes: int = MAX_RESPONSE_BYTES) -> Element:
    """The root element of a Fnac response; FnacProtocolError for anything else (the
    kit's guard: no DTD, no entity, UTF-8 only, ``max_bytes`` at most, Fnac's namespace)."""
    return parse_guarded(data, FnacProtocolError, max_bytes=max_bytes, ns=NS)


def local_name(element: Element) -> str:
    return str(etree.QName(element).localname)


def read_envelope(
    root: Element, redact: Callable[[str], str] = str
) -> tuple[str, tuple[FnacErrorDetail, ...]]:
    """The response's status and its ``<error>``s (their texts through ``redact``)."""
    status = root.get("status")
    if status is None:
        raise FnacProtocolError(f"<{local_name(root)}> has no status")
    if status not in OK_STATUSES and status not in REFUSED_STATUSES:
        raise FnacProtocolError(f"unknown status {status!r}")
    return status, _errors(_node(root), redact)


def _errors(node: Node, redact: Callable[[str], str]) -> tuple[FnacErrorDetail, ...]:
    """Fnac's error texts without a secret it may echo (removed before shortening, so no
    part of one is left)."""
    return tuple(
        FnacErrorDetail(
            code=error.element.get("code") or "",
            severity=error.element.get("severity") or "",
            text=redact(redact_text((error.element.text or "").strip()))[:ERROR_TEXT_CHARS],
        )
        for error in node.all("error")
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
        root = answer_root(content, FnacProtocolError, max_bytes=max_bytes, ns=NS)
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


# --- reading ------------------------------------------------------------------------------


def read_auth(root: Element) -> AuthToken:
    return decode(_node(root), AuthToken)


def read_messages(root: Element) -> MessagesPage:
    node = _node(root)
    messages, unreadable = node.each("message", _message)
    return MessagesPage(paging=decode(node, Paging), messages=messages, unreadable=unreadable)


def read_orders(root: Element) -> OrdersPage:
    node = _node(root)
    orders, unreadable = node.each("order", decoding(Order))
    return OrdersPage(paging=decode(node, Paging), orders=orders, unreadable=unreadable)


def read_incidents(root: Element) -> IncidentsPage:
    node = _node(root)
    incidents, unreadable = node.each("incident", _incident)
    return IncidentsPage(paging=decode(node, Paging), incidents=incidents, unreadable=unreadable)


def read_message_updates(
    root: Element, redact: Callable[[str], str] = str
) -> tuple[MessageUpdateResult, ...]:
    return tuple(
        MessageUpdateResult(
            message_id=message.element.get("id"),
            status=message.element.get("status") or "",
            errors=_errors(message, redact),
        )
        for message in _node(root).all("message")
    )


def _message(node: Node) -> Message:
    referer = node.child("message_referer").element
    sender = node.get("message_from")
    return decode(
        node,
        Message,
        referer_type=referer.get("type") or "ORDER",
        referer=(referer.text or "").strip(),
        from_type=(sender.get("type") or "SYSTEM") if sender is not None else "SYSTEM",
        from_name=((sender.text or "").strip() or None) if sender is not None else None,
        description=node.text("message_description", strip=False) or "",
        read=node.element.get("state", "UNREAD") == "READ",
    )


def _incident(node: Node) -> Incident:
    header = node.child("header")
    return decode(
        header,
        Incident,
        incident_id=node.element.get("id") or header.required("incident_id"),
        waiting_for_seller_answer=header.text("waiting_for_seller_answer") == "TRUE",
        message=header.text("message", strip=False) or "",
        line_types=tuple(
            line.text("type") or ""
            for lines in node.all("order_details_incident")[:1]
            for line in lines.all("order_detail_incident")
        ),
    )


def _node(element: Element) -> Node:
    return Node(element, NS, FnacProtocolError)


def parse_datetime(text: str, name: str = "date") -> datetime:
    """xs:dateTime as Fnac writes it (hours may have one digit; no zone means UTC)."""
    return kit_datetime(text, FnacProtocolError, name)
