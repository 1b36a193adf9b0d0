"""The five services: a validated request (lxml root) in, a response root out; what they
serve is docs/SANDBOX.md's ("Services"). Filters are AND across kinds and OR within one
kind (two `message_id`s select either).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import msgspec
from keybuzz_sandbox.double_kit.api import within
from keybuzz_sandbox.double_kit.history import MAX_LIFECYCLE
from lxml import etree

from . import errors
from .book import IncidentRecord, MessageRecord, ShopBook
from .generator import LINE_STATE
from .wire import (
    add,
    add_error,
    add_paging,
    amount,
    child_text,
    children,
    fnac_time,
    parse_time,
    refusal,
    response,
    text_of,
)

MAX_RESULTS = 100  # results_count above it: ERR_105
MAX_ORDER_IDS = 50  # orders_fnac_id / orders: more than 50 ids: ERR_105
MAX_REPLY_CHARS = 2_000  # the double's assumption: Fnac publishes no limit


class Filters:
    """A query's filters: element name -> its values, plus paging, date and sort."""

    def __init__(self, book: ShopBook, request: etree._Element) -> None:
        self.book = book
        self.values: dict[str, list[etree._Element]] = {}
        for name, element in children(request):
            self.values.setdefault(name, []).append(element)
            # A list's wrapper (``orders_fnac_id``) holds values of its item's filter.
            for inner, value in children(element):
                self.values.setdefault(inner, []).append(value)
        self.page = max(1, int(text_of(self.first("paging")) or 1))
        self.per_page = int(request.get("results_count", "100"))
        date = self.first("date")
        self.date_type = date.get("type") if date is not None else None
        self.low = _time_or_none(child_text(date, "min")) if date is not None else None
        self.high = _time_or_none(child_text(date, "max")) if date is not None else None

    @property
    def descending(self) -> bool:
        """Newest first unless ``sort_by`` says ASC (its text, or messages_query's ``type``)."""
        sort_by = self.first("sort_by")
        return sort_by is None or "ASC" not in (text_of(sort_by), sort_by.get("type"))

    def first(self, name: str) -> etree._Element | None:
        found = self.values.get(name)
        return found[0] if found else None

    def texts(self, name: str) -> set[str] | None:
        """Values of a filter, given alone or in its list's wrapper; None: not given."""
        elements = self.values.get(name)
        return {text_of(e) for e in elements} if elements else None

    def keeps(self, **shown: str | None) -> bool:
        """Whether an item showing ``shown`` (a filter's name: the item's value) passes
        every one of those filters the query gives."""
        return all(
            (wanted := self.texts(name)) is None or value in wanted for name, value in shown.items()
        )

    def in_range(self, virtual: float | None) -> bool:
        """Whether a (virtual) time is within the date filter, compared as the client sees
        it: real time, whole seconds."""
        if self.date_type is None:
            return True
        if virtual is None:
            return False
        return within(math.floor(self.book.real(virtual)), (self.low, self.high))


def _time_or_none(text: str) -> float | None:
    return parse_time(text) if text else None


class Listing(NamedTuple):
    """A query service: the items its filters keep (``select``: in the order listed), each
    shown as an element (``show``), at most ``max_ids`` order ids asked (ERR_105 beyond)."""

    select: Callable[[ShopBook, Filters, float], Sequence[Any]]
    show: Callable[[etree._Element, ShopBook, Any, float], None]
    max_ids: int | None = None
    paged_by_faults: bool = False  # the fault settings may page it wrong (a messages listing)
    drawn: bool = True  # it lists what the shop's history holds, made concrete first


def listed(
    service: str, listing: Listing, book: ShopBook, request: etree._Element, real_now: float
) -> etree._Element:
    """A query's answer: the page asked of what it keeps, or its refusal when it asks more
    than Fnac answers at once (ERR_105)."""
    filters = Filters(book, request)
    ids = filters.texts("order_fnac_id") or ()
    if filters.per_page > MAX_RESULTS:
        reason = f"results_count may not exceed {MAX_RESULTS}"
        return refusal(service, errors.TOO_MANY_ELEMENTS, reason)
    if listing.max_ids is not None and len(ids) > listing.max_ids:
        return refusal(service, errors.TOO_MANY_ELEMENTS, f"at most {listing.max_ids} order ids")
    now = book.reached(real_now) if listing.drawn else book.virtual(real_now)
    kept = listing.select(book, filters, now)
    answer = response(service)
    start = (filters.page - 1) * filters.per_page
    shown, total = kept[start : start + filters.per_page], len(kept)
    hostile = None
    if listing.paged_by_faults:
        hostile = book.reply_faults.paged(list(kept[: filters.per_page]), filters.page > 1)
    if hostile is not None:
        # Paged as none should: its total says another page always follows.
        shown, total = hostile, (filters.page + 1) * filters.per_page
    add_paging(answer, filters.page, filters.per_page, total)
    for item in shown:
        listing.show(answer, book, item, now)
    return answer


# --- messages_query -------------------------------------------------------------------


def _messages(book: ShopBook, filters: Filters, now: float) -> list[MessageRecord]:
    kept = [m for m in book.by_creation() if m.facts.created <= now and _keeps(m, filters)]
    kept.sort(key=lambda m: m.facts.created, reverse=filters.descending)  # by creation
    return kept


def _keeps(record: MessageRecord, filters: Filters) -> bool:
    facts = record.facts  # the date filter: by creation
    return filters.in_range(facts.created) and filters.keeps(
        message_type=facts.referer_type,
        message_id=facts.message_id,
        order_fnac_id=facts.referer if facts.referer_type == "ORDER" else None,
        from_type=facts.from_type,
    )


def _message(parent: etree._Element, book: ShopBook, record: MessageRecord, _: float) -> None:
    facts = record.facts
    element = add(
        parent,
        "message",
        state="READ" if record.read else "UNREAD",
        archived="TRUE" if record.facts.archived else "FALSE",
    )
    add(element, "message_id", facts.message_id)
    add(element, "message_referer", facts.referer, type=facts.referer_type)
    add(element, "message_from", facts.from_name, type=facts.from_type)
    if facts.offer_title is not None:
        add(element, "message_offer_title", facts.offer_title)
    add(element, "message_subject", facts.subject)
    add(element, "message_description", facts.description)
    add(element, "created_at", fnac_time(book.real(facts.created)))
    add(element, "updated_at", fnac_time(book.real(record.updated)))
    if record.answer is not None and record.answered is not None:
        add(element, "answer", record.answer)
        add(element, "answer_at", fnac_time(book.real(record.answered)))
    for file in facts.files:
        linked = add(element, "message_file")
        add(linked, "name", file.name)
        add(linked, "url", file.url or f"{book.files_url}{file.file_id}")
        add(linked, "filetype", file.filetype)


# --- messages_update --------------------------------------------------------------------


def messages_update(book: ShopBook, request: etree._Element, real_now: float) -> etree._Element:
    """Each message's result in the answer; any failure makes the answer's status ERROR."""
    now = book.reached(real_now)
    answer = response("messages_update")
    for _, element in children(request):
        result = add(answer, "message", status="OK", id=element.get("id", ""))
        if (problem := _update_message(book, element, real_now, now)) is not None:
            result.set("status", "ERROR")
            add_error(result, *problem)
            answer.set("status", "ERROR")
    return answer


def _update_message(
    book: ShopBook, element: etree._Element, real_now: float, now: float
) -> tuple[str, str] | None:
    """Carries out one message's action; (ERR_ code, message) when refused. Served: the
    two our connector sends (reply, mark_as_read); the XSD's others are refused."""
    action, target = element.get("action", ""), element.get("id", "")
    if action not in ("reply", "mark_as_read"):
        return errors.ACTION_UNAVAILABLE, f"{action} is not served by the double"
    record = book.messages.get(target.upper())
    if record is None or record.facts.created > now:
        return errors.MESSAGE_UNKNOWN, f"message {target} not found"
    if action == "reply":
        return _send(book, element, record, real_now, now)
    record.read, record.updated = True, now
    return None


def _send(
    book: ShopBook, element: etree._Element, original: MessageRecord, real_now: float, now: float
) -> tuple[str, str] | None:
    description = child_text(element, "message_description")
    if not description or len(description) > MAX_REPLY_CHARS:
        return (
            errors.DESCRIPTION_INVALID,
            f"message_description must hold 1 to {MAX_REPLY_CHARS} characters",
        )
    message_to = child_text(element, "message_to") or "CLIENT"
    if message_to == "CALLCENTER":
        index = original.facts.order_index
        incident = None if index is None else book.incidents.get(index)
        if incident is None or not incident.is_open(now):
            return (
                errors.CALLCENTER_NEEDS_INCIDENT,
                "messages to CALLCENTER are allowed only while the order has an incident",
            )
    book.send(
        original=original,
        message_to=message_to,
        subject=child_text(element, "message_subject") or "other_question",
        description=description,
        real_now=real_now,
    )
    return None


# --- orders_query -------------------------------------------------------------------------


def _orders(book: ShopBook, filters: Filters, now: float) -> Sequence[int]:
    """The indices of the orders kept, in the order listed."""
    wanted_ids = filters.texts("order_fnac_id")
    if wanted_ids is None and filters.date_type in (None, "CreatedAt"):
        # Orders are in creation order: those kept are a range of indices, paged as is
        # (a deep page of a 50,000-order shop costs its 100 orders, not all 50,000).
        within = _created_within(book, now, filters)
        return within[::-1] if filters.descending else within
    if wanted_ids is not None:
        found = (book.find_order(i, now) for i in wanted_ids)
        indices: Sequence[int] = sorted(o.index for o in found if o is not None)
    else:
        indices = _placed_in(book, now, filters)

    def changed(index: int) -> float:
        """UpdatedAt: when its state last changed; CreatedAt: when it was placed."""
        if filters.date_type == "UpdatedAt":
            return book.gen.order(index).status_at(now)[1]
        return book.gen.purchase_time(index)

    kept = [i for i in indices if filters.in_range(changed(i))]
    return kept[::-1] if filters.descending else kept


def _placed_in(book: ShopBook, now: float, filters: Filters) -> range:
    """Indices of the orders the date filter (as virtual times, widened by a second each
    way) may select (no order changes more than MAX_LIFECYCLE after it is placed)."""
    low = None if filters.low is None else book.virtual(filters.low) - 1
    high = None if filters.high is None else book.virtual(filters.high + 1) + 1
    reach = 0.0 if filters.date_type == "CreatedAt" else MAX_LIFECYCLE
    return book.gen.placed_in(now, low, high, reach)


def _created_within(book: ShopBook, now: float, filters: Filters) -> range:
    """Indices of the orders whose creation the date filter (CreatedAt or none) keeps,
    found by bisection: creation times, as the client sees them, never decrease."""
    indices = _placed_in(book, now, filters)
    if filters.date_type is None:
        return indices

    def created(index: int) -> int:
        return math.floor(book.real(book.gen.purchase_time(index)))

    start = 0 if filters.low is None else bisect_left(indices, filters.low, key=created)
    stop = (
        len(indices) if filters.high is None else bisect_right(indices, filters.high, key=created)
    )
    return indices[start : max(start, stop)]


def _order(parent: etree._Element, book: ShopBook, index: int, now: float) -> None:
    order = book.gen.order(index)
    element = add(parent, "order")
    state, _ = order.status_at(now)
    add(element, "shop_id", book.shop_id)
    for name in ("client_id", "client_firstname", "client_lastname", "client_email", "order_id"):
        add(element, name, getattr(order, name))  # OrderFacts' fields are the XSD's names
    add(element, "state", state)
    add(element, "created_at", fnac_time(book.real(order.placed)))
    add(element, "fees", amount(sum(line.fees for line in order.lines)))
    add(element, "vat_rate", 0)
    visible = [m for m in book.order_messages(order.index) if m.created <= now]
    add(element, "nb_messages", len(visible))
    for kind in ("shipping_address", "billing_address"):
        address = add(element, kind)
        for name, value in (*msgspec.structs.asdict(order.address).items(), ("country", "FRA")):
            add(address, name, value)  # Address's fields in the XSD's order
    debited = order.reached("ToShip")
    received = order.reached("Received")
    refused = order.reached("Refused")
    for line in order.lines:
        detail = add(element, "order_detail")
        add(detail, "product_name", line.product.name)
        add(detail, "order_detail_id", line.detail_id)
        add(detail, "state", LINE_STATE.get(state, state))
        add(detail, "quantity", line.quantity)
        add(detail, "price", amount(line.product.price))
        add(detail, "fees", amount(line.fees))
        add(detail, "product_fnac_id", line.product.fnac_id)
        add(detail, "offer_fnac_id", line.product.offer_fnac_id)
        add(detail, "offer_seller_id", line.product.offer_seller_id)
        add(detail, "product_state", 11)
        add(detail, "shipping_price", amount(line.shipping_price))
        add(detail, "shipping_method", 20)
        add(detail, "created_at", fnac_time(book.real(order.placed)))
        if debited is not None and debited <= now:
            add(detail, "debited_at", fnac_time(book.real(debited)))
        add(
            detail,
            "received_at",
            fnac_time(book.real(received)) if received is not None and received <= now else "",
        )
        if refused is not None and refused <= now:
            add(detail, "refused_at", fnac_time(book.real(refused)))


# --- incidents_query ------------------------------------------------------------------------


def _incidents(book: ShopBook, filters: Filters, now: float) -> list[IncidentRecord]:
    kept = [
        i
        for i in book.incidents.values()
        # by UpdatedAt (the date filter our connector sends) or CreatedAt
        if i.facts.opened <= now
        and filters.in_range(i.updated(now) if filters.date_type == "UpdatedAt" else i.facts.opened)
    ]
    kept.sort(key=lambda i: i.facts.opened, reverse=filters.descending)
    return kept


def _incident(parent: etree._Element, book: ShopBook, incident: IncidentRecord, now: float) -> None:
    facts, closed = incident.facts, not incident.is_open(now)
    status, updated = "CLOSED" if closed else "OPENED", fnac_time(book.real(incident.updated(now)))
    element = add(parent, "incident", id=facts.incident_id)
    header = add(element, "header")
    add(header, "status", status)
    waiting = book.waiting_for_seller(incident, now)
    add(header, "waiting_for_seller_answer", "TRUE" if waiting else "FALSE")
    add(header, "message", facts.message)
    add(header, "opened_by", "client")
    if closed:  # by Fnac's customer service, which closes them all
        add(header, "closed_by", "call-center")
        add(header, "closed_status", incident.closed_status)
    add(header, "created_at", fnac_time(book.real(facts.opened)))
    add(header, "updated_at", updated)
    if closed and incident.closed is not None:
        add(header, "closed_at", fnac_time(book.real(incident.closed)))
    add(header, "order_id", facts.order_id)
    details = add(element, "order_details_incident")
    for detail_id in facts.detail_ids:
        detail = add(details, "order_detail_incident")
        add(detail, "order_detail_id", detail_id)
        add(detail, "type", facts.type_code)
        add(detail, "status", status)
        add(detail, "created_at", fnac_time(book.real(facts.opened)))
        add(detail, "updated_at", updated)


LISTINGS = {
    "messages_query": Listing(_messages, _message, paged_by_faults=True),
    "orders_query": Listing(_orders, _order, max_ids=MAX_ORDER_IDS, drawn=False),
    "incidents_query": Listing(_incidents, _incident),
}


def answered(
    service: str, book: ShopBook, request: etree._Element, real_now: float
) -> etree._Element:
    """What ``service`` answers ``request`` for ``book`` (auth aside)."""
    if service == "messages_update":
        return messages_update(book, request, real_now)
    return listed(service, LISTINGS[service], book, request, real_now)
