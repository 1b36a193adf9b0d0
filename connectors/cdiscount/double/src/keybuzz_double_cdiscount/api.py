"""Octopia's seller API v2 operations, over one shop's book: what each answers, or the
400/404 it refuses with (``Refused``). HTTP, authentication and limits are routes.py's.
Served: what our connector, the sandbox and their tests ask (docs/SANDBOX.md); another
query parameter is ignored."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from keybuzz_sandbox.clock import parse_iso
from keybuzz_sandbox.double_kit.api import (
    Answer,
    Paging,
    Refused,
    ShopCall,
    decoded,
    file_answer,
    found,
    page_link,
    page_of,
    query_choice,
    query_int,
    query_read,
    seller_reply,
    within,
)
from keybuzz_sandbox.double_kit.draws import numeric_id
from keybuzz_sandbox.double_kit.history import MAX_LIFECYCLE
from keybuzz_sandbox.faults import no_hostile_paging

from .book import DiscussionRecord, SentMessage, ShopBook
from .generator import SELLER, TYPOLOGIES, AttachmentFacts
from .wire import discussion_json, order_json, user

SEARCH_SPAN = 183 * 86_400.0  # "at most 6 months" (official), taken as 183 days
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
MAX_ATTACHMENTS = 3
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024  # "4 MB in all" (official), taken as 4 MiB
# The formats a reply's attachment may have (official), and how the double serves each.
MEDIA_TYPES = {
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "jpg": "image/jpeg",
    "tif": "image/tiff",
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
}
FILE_FORMATS = tuple(MEDIA_TYPES)
BODY_LENGTH = (13, 5_000)  # observed: one integration keeps replies within these
OBSERVED_INCLUDE_MESSAGES = ("FirstMessage", "LastMessage")
INCLUDE_MESSAGES = (*OBSERVED_INCLUDE_MESSAGES, "All")  # "All": the double's only
ORDER_SORTS = ("createdAt:desc", "createdAt:asc", "updatedAt:desc", "updatedAt:asc")


Query = Mapping[str, str]


class Call(ShopCall, frozen=True, kw_only=True):
    """One authorized API call: ``now`` the shop's virtual time, ``real`` the real one."""

    real: float
    # Only the observed includeMessages values (FirstMessage, LastMessage) accepted.
    observed_only: bool = False


# What an operation answers one shop's call (or the ``Refused`` it raises).
Operation = Callable[[ShopBook, Call], Answer]


# --- query parameters ------------------------------------------------------------------


def _time(query: Query, name: str, book: ShopBook) -> float | None:
    """A date parameter as the shop's virtual time."""
    refused = Refused(400, f"{name} must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
    return query_read(query, name, lambda raw: book.virtual(parse_iso(raw)), refused)


def page(
    items: Sequence[Any],
    call: Call,
    render: Callable[[Any], Any],
    paged: Paging = no_hostile_paging,
) -> Answer:
    """One page of ``items``; a ``Link`` header names the next one if there is one (always,
    when ``paged``, the shop's paging faults, shows the page as none should)."""
    index = query_int(call.query, "pageIndex", 1, (1, 10**9))
    size = query_int(call.query, "pageSize", DEFAULT_PAGE_SIZE, (1, MAX_PAGE_SIZE))
    shown, more = page_of(items, index, size, paged)
    body = {"items": [render(i) for i in shown], "pageIndex": index, "pageSize": size}
    headers = {}
    if more:
        following = page_link(call, pageIndex=str(index + 1), pageSize=str(size))
        headers["Link"] = f'<{following}>; rel="next"'
    return Answer(200, body, headers)


# --- discussions -----------------------------------------------------------------------


def discussions(book: ShopBook, call: Call) -> Answer:
    query, now = call.query, call.now
    low, high = _time(query, "updatedAtMin", book), _time(query, "updatedAtMax", book)
    high = now if high is None else high
    low = high - SEARCH_SPAN if low is None else low
    if high - low > SEARCH_SPAN:
        raise Refused(400, "updatedAtMin to updatedAtMax spans more than 6 months")
    choices = OBSERVED_INCLUDE_MESSAGES if call.observed_only else INCLUDE_MESSAGES
    include = query_choice(query, "includeMessages", choices)
    matching = [d for d in book.shown(now) if low <= d.updated(now) <= high]
    matching.sort(key=lambda d: (d.updated(now), d.discussion_id))
    render = lambda d: discussion_json(book, d, now, include)  # noqa: E731
    return page(matching, call, render, book.reply_faults.paged)


def discussion(book: ShopBook, call: Call) -> Answer:
    now = call.now
    record = _discussion(book, call.path["discussion_id"], now)
    body = discussion_json(book, record, now, "All")
    body["eligibleReceivers"] = [user(*r) for r in record.eligible(now, book.gen.grc_id)]
    return Answer(200, body)


def _discussion(book: ShopBook, discussion_id: str, now: float) -> DiscussionRecord:
    return found(book.discussion(discussion_id, now), f"discussion {discussion_id} not found")


def typologies(_book: ShopBook, _call: Call) -> Answer:
    return Answer(
        200,
        [
            {
                "typologyCode": code,
                "subTypologies": [
                    {"subTypologyCode": s, "label": label} for s, label in subs.items()
                ],
            }
            for code, subs in TYPOLOGIES.items()
        ],
    )


# --- JSON Patch ------------------------------------------------------------------------


class PatchOperation(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    path: str
    value: Any = None


def mark_read(book: ShopBook, call: Call) -> Answer:
    """A JSON Patch document of one operation setting ``/hasRead``."""
    message_id = call.path["message_id"]
    message = found(book.message(message_id, call.now), f"message {message_id} not found")
    operations = decoded(call.body, list[PatchOperation], "JSON Patch document")
    if len(operations) != 1:
        raise Refused(400, "one operation expected, on /hasRead")
    operation = operations[0]
    if operation.op not in ("replace", "add") or operation.path != "/hasRead":
        raise Refused(400, 'only "replace" on /hasRead is supported')
    if not isinstance(operation.value, bool):
        raise Refused(400, "/hasRead takes true or false")
    message.read = operation.value
    return Answer(204)


# --- replies ----------------------------------------------------------------------------


class Receiver(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    user_type: str
    user_id: str | None = None


class AttachmentIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    content: str  # base64
    name: str
    file_format: str


class ReplyIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    body: str
    discussion_id: str
    sales_channel: str | None = None
    receivers: list[Receiver] | None = None
    receiver: Receiver | None = None  # a single recipient, as one integration sends
    attachments: list[AttachmentIn] = []


def reply(book: ShopBook, call: Call) -> Answer:
    real_now, now = call.real, call.now
    data = decoded(call.body, ReplyIn, "reply")
    record = _discussion(book, data.discussion_id, now)
    low, high = BODY_LENGTH
    if not low <= len(data.body) <= high:
        raise Refused(400, f"body must hold {low} to {high} characters")
    if data.sales_channel is not None and data.sales_channel != record.facts.sales_channel:
        raise Refused(400, f"salesChannel is {record.facts.sales_channel} for this discussion")
    if not record.is_open(now):
        raise Refused(400, "the discussion is closed: reopen it (PATCH /isOpen) to reply")
    receivers = _receivers(book, record, data, now)
    files = _attachments(data.attachments)
    attachments = tuple(
        AttachmentFacts(
            attachment_id=numeric_id(
                book.gen.seed, book.seller_id, "sent-file", len(book.sent), n, real_now
            ),
            name=a.name,
            file_format=a.file_format.lower(),
            size=len(content),
        )
        for n, (a, content) in enumerate(files)
    )
    contents = tuple(content for _, content in files)
    message = book.add_message(
        record, SELLER, *seller_reply(book, data.body, now), receivers, attachments, contents
    )
    book.sent.append(
        SentMessage(
            message_id=message.facts.message_id,
            discussion_id=record.discussion_id,
            sales_channel=record.facts.sales_channel,
            receivers=[user(*r) for r in receivers],
            body=data.body,
            attachments=[
                {"name": a.name, "fileFormat": a.file_format, "size": a.size} for a in attachments
            ],
            created_at=real_now,
        )
    )
    return Answer(201, {"messageId": message.facts.message_id})


def _receivers(
    book: ShopBook, record: DiscussionRecord, data: ReplyIn, now: float
) -> tuple[tuple[str, str], ...]:
    if (data.receivers is None) == (data.receiver is None):
        raise Refused(400, "name the recipients in receivers (or one in receiver), not both")
    asked = (
        data.receivers if data.receivers is not None else [data.receiver] if data.receiver else []
    )
    eligible = dict((t, u) for u, t in record.eligible(now, book.gen.grc_id))
    if not asked:
        raise Refused(400, "receivers must name at least one recipient")
    chosen = []
    for receiver in asked:
        user_id = eligible.get(receiver.user_type)
        if user_id is None or receiver.user_id not in (None, user_id):
            named = " ".join(filter(None, (receiver.user_type, receiver.user_id)))
            allowed = ", ".join(f"{t} {u}" for t, u in eligible.items())
            raise Refused(
                400, f"{named} is not a recipient of this discussion (eligible: {allowed})"
            )
        if (user_id, receiver.user_type) not in chosen:
            chosen.append((user_id, receiver.user_type))
    return tuple(chosen)


def _attachments(given: list[AttachmentIn]) -> list[tuple[AttachmentIn, bytes]]:
    if len(given) > MAX_ATTACHMENTS:
        raise Refused(400, f"at most {MAX_ATTACHMENTS} attachments a reply")
    files = []
    for attachment in given:
        if attachment.file_format.lower() not in FILE_FORMATS:
            raise Refused(
                400,
                f"fileFormat {attachment.file_format!r} refused: one of {', '.join(FILE_FORMATS)}",
            )
        if not attachment.name.strip():
            raise Refused(400, "an attachment needs a name")
        try:
            content = base64.b64decode(attachment.content, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, f"attachment {attachment.name!r}: content is not base64") from None
        if not content:
            raise Refused(400, f"attachment {attachment.name!r} is empty")
        files.append((attachment, content))
    total = sum(len(c) for _, c in files)
    if total > MAX_ATTACHMENT_BYTES:
        raise Refused(
            400, f"attachments hold {total} bytes: at most {MAX_ATTACHMENT_BYTES} (4 MB) in all"
        )
    return files


def attachment(book: ShopBook, call: Call) -> Answer:
    attachment_id = call.path["attachment_id"]
    kept = book.attachment(attachment_id, call.now)
    facts, content = found(kept, f"attachment {attachment_id} not found")
    return file_answer(facts.name, content, MEDIA_TYPES.get(facts.file_format.lower()))


# --- orders -----------------------------------------------------------------------------


def orders(book: ShopBook, call: Call) -> Answer:
    query, now = call.query, call.now
    sort = query_choice(query, "sort", ORDER_SORTS) or "createdAt:desc"
    created = (_time(query, "createdAtMin", book), _time(query, "createdAtMax", book))
    updated = (_time(query, "updatedAtMin", book), _time(query, "updatedAtMax", book))
    low = max((t for t in (created[0], updated[0]) if t is not None), default=None)
    high = min((t for t in (created[1], updated[1]) if t is not None), default=None)
    matching = []
    # no order changes later than MAX_LIFECYCLE after it is placed
    reach = MAX_LIFECYCLE if updated[0] is not None else 0.0
    for index in book.gen.placed_in(now, low, high, reach):
        order = book.gen.order(index)
        _, changed = order.status_at(now)
        if within(order.placed, created) and within(changed, updated):
            matching.append((order, changed))
    field, direction = sort.split(":")
    matching.sort(
        key=lambda o: (o[1] if field == "updatedAt" else o[0].placed, o[0].index),
        reverse=direction == "desc",
    )
    return page(matching, call, lambda o: order_json(book, o[0], now))


def order(book: ShopBook, call: Call) -> Answer:
    order_id = call.path["order_id"]
    placed = found(book.find_order(order_id, call.now), f"order {order_id} not found")
    return Answer(200, order_json(book, placed, call.now))


# (method, path under /seller/v2, operation name for the fault settings, what it answers)
OPERATIONS: tuple[tuple[str, str, str, Operation], ...] = (
    ("GET", "/discussions", "getDiscussions", discussions),
    ("GET", "/discussions/{discussion_id:str}", "getDiscussion", discussion),
    ("GET", "/typologies", "getTypologies", typologies),
    ("POST", "/messages", "postMessage", reply),
    ("PATCH", "/messages/{message_id:str}", "patchMessage", mark_read),
    ("GET", "/attachments/{attachment_id:str}", "getAttachment", attachment),
    ("GET", "/orders", "getOrders", orders),
    ("GET", "/orders/{order_id:str}", "getOrder", order),
)
