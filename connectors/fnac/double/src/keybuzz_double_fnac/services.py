"""The five services: a validated request (lxml root) in, a response root out.

Only what our connector, the sandbox and their tests ask is served (docs/SANDBOX.md,
"Services"); a filter not served is ignored. Filters are AND across kinds and OR within
one kind (two `message_id`s select either). Lists are sorted newest first unless
`sort_by` says otherwise.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import msgspec
from lxml import etree

from . import errors
from .book import IncidentRecord, MessageRecord, ShopBook
from .generator import LINE_STATE, OrderFacts
from .wire import (
    API_VERSION,
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
T = TypeVar("T")


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
        self.page = max(1, int(self.text("paging") or 1))
        self.per_page = int(request.get("results_count", "100"))
        date = self.first("date")
        self.date_type = date.get("type") if date is not None else None
        self.low = _time_or_none(child_text(date, "min")) if date is not None else None
        self.high = _time_or_none(child_text(date, "max")) if date is not None else None

    def first(self, name: str) -> etree._Element | None:
        found = self.values.get(name)
        return found[0] if found else None

    def text(self, name: str) -> str:
        return text_of(self.first(name))

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
        value = math.floor(self.book.real(virtual))
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def virtual_bounds(self) -> tuple[float | None, float | None]:
        """The date filter as virtual times, widened by a second each way."""
        low = None if self.low is None else self.book.virtual(self.low) - 1
        high = None if self.high is None else self.book.virtual(self.high + 1) + 1
        return low, high


def _time_or_none(text: str) -> float | None:
    return parse_time(text) if text else None


def _page(items: Sequence[T], filters: Filters) -> Sequence[T]:
    start = (filters.page - 1) * filters.per_page
    return items[start : start + filters.per_page]


def _too_many(
    service: str, filters: Filters, order_ids: set[str] | None = None
) -> etree._Element | None:
    """The refusal of a query asking more than Fnac answers at once (ERR_105), if it does."""
    if filters.per_page > MAX_RESULTS:
        reason = f"results_count may not exceed {MAX_RESULTS}"
        return refusal(service, errors.TOO_MANY_ELEMENTS, reason)
    if order_ids is not None and len(order_ids) > MAX_ORDER_IDS:
        return refusal(service, errors.TOO_MANY_ELEMENTS, f"at most {MAX_ORDER_IDS} order ids")
    return None


# --- messages_query -------------------------------------------------------------------


def messages_query(book: ShopBook, request: etree._Element, real_now: float) -> etree._Element:
    filters = Filters(book, request)
    if (refused := _too_many("messages_query", filters)) is not None:
        return refused
    now = book.virtual(real_now)
    book.materialize(now)
    matching = [m for m in book.by_creation() if m.facts.created <= now and _keeps(m, filters)]
    sort_by = filters.first("sort_by")  # by creation (the one sort served)
    descending = sort_by is None or sort_by.get("type") != "ASC"
    matching.sort(key=lambda m: m.facts.created, reverse=descending)
    answer = response("messages_query")
    shown, total = _page(matching, filters), len(matching)
    if (
        hostile := book.reply_faults.paged(list(matching[: filters.per_page]), filters.page > 1)
    ) is not None:
        # Paged as none should: its total says another page always follows.
        shown, total = hostile, (filters.page + 1) * filters.per_page
    add_paging(answer, filters.page, filters.per_page, total)
    for record in shown:
        _message(answer, book, record)
    return answer


def _keeps(record: MessageRecord, filters: Filters) -> bool:
    facts = record.facts  # the date filter: by creation
    return filters.in_range(facts.created) and filters.keeps(
        message_type=facts.referer_type,
        message_id=facts.message_id,
        order_fnac_id=facts.referer if facts.referer_type == "ORDER" else None,
        from_type=facts.from_type,
    )


def _message(parent: etree._Element, book: ShopBook, record: MessageRecord) -> None:
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
    now = book.virtual(real_now)
    book.materialize(now)
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
        order_index = original.facts.order_index
        incident = book.incident_for(order_index, now) if order_index is not None else None
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


def orders_query(book: ShopBook, request: etree._Element, real_now: float) -> etree._Element:
    filters = Filters(book, request)
    wanted_ids = filters.texts("order_fnac_id")
    if (refused := _too_many("orders_query", filters, wanted_ids)) is not None:
        return refused
    now = book.virtual(real_now)
    book.materialize(now)
    ascending = filters.text("sort_by") == "ASC"  # by creation
    answer = response("orders_query")
    if wanted_ids is None and filters.date_type in (None, "CreatedAt"):
        # Orders are in creation order: those kept are a range of indices, paged as is
        # (a deep page of a 50,000-order shop costs its 100 orders, not all 50,000).
        indices = _created_within(book, now, filters)
        ordered = indices if ascending else indices[::-1]
        add_paging(answer, filters.page, filters.per_page, len(ordered))
        for index in _page(ordered, filters):
            _order(answer, book, book.gen.order(index), now)
        return answer
    if wanted_ids is not None:
        found = (book.find_order(i, now) for i in wanted_ids)
        candidates: Iterable[OrderFacts] = sorted(
            (o for o in found if o is not None), key=lambda o: o.index
        )
    else:
        indices = book.order_candidates(now, filters.date_type, *filters.virtual_bounds())
        candidates = (book.gen.order(i) for i in indices)
    matching = [
        o
        for o in candidates
        if filters.date_type is None or filters.in_range(book.order_date(o, filters.date_type, now))
    ]
    if not ascending:
        matching.reverse()
    add_paging(answer, filters.page, filters.per_page, len(matching))
    for order in _page(matching, filters):
        _order(answer, book, order, now)
    return answer


def _created_within(book: ShopBook, now: float, filters: Filters) -> range:
    """Indices of the orders whose creation the date filter (CreatedAt or none) keeps,
    found by bisection: creation times, as the client sees them, never decrease."""
    indices = book.order_candidates(now, filters.date_type, *filters.virtual_bounds())
    if filters.date_type is None:
        return indices

    def created(index: int) -> int:
        return math.floor(book.real(book.gen.purchase_time(index)))

    start = 0 if filters.low is None else bisect_left(indices, filters.low, key=created)
    stop = (
        len(indices) if filters.high is None else bisect_right(indices, filters.high, key=created)
    )
    return indices[start : max(start, stop)]


def _order(parent: etree._Element, book: ShopBook, order: OrderFacts, now: float) -> None:
    element = add(parent, "order")
    state, _ = book.order_state(order, now)
    add(element, "shop_id", book.shop_id)
    add(element, "client_id", order.client_id)
    add(element, "client_firstname", order.client_firstname)
    add(element, "client_lastname", order.client_lastname)
    add(element, "client_email", order.client_email)
    add(element, "order_id", order.order_id)
    add(element, "state", state)
    add(element, "created_at", fnac_time(book.real(order.placed)))
    add(element, "fees", amount(sum(line.fees for line in order.lines)))
    add(element, "vat_rate", 0)
    visible = [m for m in book.by_order.get(order.index, []) if m.facts.created <= now]
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


def incidents_query(book: ShopBook, request: etree._Element, real_now: float) -> etree._Element:
    filters = Filters(book, request)
    if (refused := _too_many("incidents_query", filters)) is not None:
        return refused
    now = book.virtual(real_now)
    book.materialize(now)
    matching = [
        i
        for i in book.incidents.values()
        if i.facts.opened <= now and _keeps_incident(book, i, filters, now)
    ]
    matching.sort(key=lambda i: i.facts.opened, reverse=filters.text("sort_by") != "ASC")
    answer = response("incidents_query")
    add_paging(answer, filters.page, filters.per_page, len(matching))
    for incident in _page(matching, filters):
        _incident(answer, book, incident, now)
    return answer


def _keeps_incident(book: ShopBook, incident: IncidentRecord, filters: Filters, now: float) -> bool:
    """The date filter (UpdatedAt, the one our connector sends, or CreatedAt)."""
    if filters.date_type == "UpdatedAt":
        return filters.in_range(book.incident_updated(incident, now))
    return filters.in_range(incident.facts.opened)


def _incident(parent: etree._Element, book: ShopBook, incident: IncidentRecord, now: float) -> None:
    facts = incident.facts
    element = add(parent, "incident", id=facts.incident_id)
    header = add(element, "header")
    closed = not incident.is_open(now)
    add(header, "status", "CLOSED" if closed else "OPENED")
    add(
        header,
        "waiting_for_seller_answer",
        "TRUE" if book.waiting_for_seller(incident, now) else "FALSE",
    )
    add(header, "message", facts.message)
    add(header, "opened_by", "client")
    if closed and incident.closed is not None:
        add(header, "closed_by", incident.closed_by)
        if incident.closed_status is not None:
            add(header, "closed_status", incident.closed_status)
    add(header, "created_at", fnac_time(book.real(facts.opened)))
    add(header, "updated_at", fnac_time(book.real(book.incident_updated(incident, now))))
    if closed and incident.closed is not None:
        add(header, "closed_at", fnac_time(book.real(incident.closed)))
    add(header, "order_id", facts.order_id)
    details = add(element, "order_details_incident")
    for detail_id in facts.detail_ids:
        detail = add(details, "order_detail_incident")
        add(detail, "order_detail_id", detail_id)
        add(detail, "type", facts.type_code)
        add(detail, "status", "CLOSED" if closed else "OPENED")
        add(detail, "created_at", fnac_time(book.real(facts.opened)))
        updated = incident.closed if closed else facts.opened
        add(detail, "updated_at", fnac_time(book.real(updated or facts.opened)))


# --- auth ------------------------------------------------------------------------------------------


def auth_response(token: str, validity: float) -> etree._Element:
    answer = response("auth")
    add(answer, "token", token)
    add(answer, "validity", fnac_time(validity))
    add(answer, "version", API_VERSION)
    return answer


SERVICES: dict[str, Callable[[ShopBook, etree._Element, float], etree._Element]] = {
    "messages_query": messages_query,
    "messages_update": messages_update,
    "orders_query": orders_query,
    "incidents_query": incidents_query,
}
