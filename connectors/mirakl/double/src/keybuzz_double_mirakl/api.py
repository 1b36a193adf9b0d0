"""Mirakl's seller API operations over one shop's book: what each answers, or the 400/404
it refuses with (``Refused``). HTTP, keys, frequencies and faults are routes.py's."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from keybuzz_sandbox.double_kit.api import (
    Answer,
    Refused,
    ShopCall,
    decoded,
    file_answer,
    found,
    iso_millis,
    multipart,
    query_bool,
    query_choice,
    query_date,
    query_int,
    seller_reply,
    within,
)
from keybuzz_sandbox.double_kit.history import DAY

from .book import CUSTOMER, SHOP, NewFile, ShopBook, Thread
from .contract import DESCRIBED
from .wire import LISTED_MESSAGES, order_json, thread_json

THREAD_PAGE = (50, 100)  # M11's limit: default (official), at most (Mirakl's paging guide)
ORDER_PAGE = (10, 100)  # OR11's max: default and at most (Mirakl's paging guide)
MESSAGES_PER_THREAD = 1_000  # official
ATTACHMENTS_PER_ORDER = 50  # over all threads of one order (official)
MESSAGE_BYTES = 30 * 1024 * 1024  # one message with its files (official, OR43: "30 Megabyte")
A21_PERIODS = {
    "ALL_SINCE_BEGINNING": math.inf,
    "LAST_MONTH": 30 * DAY,
    "LAST_THREE_MONTHS": 91 * DAY,
    "LAST_SIX_MONTHS": 182 * DAY,
    "LAST_YEAR": 365 * DAY,
}


Call = ShopCall  # its ``now``: real epoch seconds
Operation = Callable[[ShopBook, Call], Answer]


# --- parameters -----------------------------------------------------------------------


def _list(query: Mapping[str, str], name: str) -> set[str]:
    return {v for v in query.get(name, "").split(",") if v}


def _thread(book: ShopBook, thread_id: str) -> Thread:
    return found(book.threads.get(thread_id), f"Thread {thread_id} not found")


# --- M11, M10: threads ------------------------------------------------------------------

# What our connector asks; the description's other filters are accepted and ignored.
THREAD_FILTERS = ("updated_since", "with_messages")


def _token(filters: dict[str, str], limit: int, key: tuple[float, str]) -> str:
    state = {"f": filters, "l": limit, "k": list(key)}
    return base64.urlsafe_b64encode(msgspec.json.encode(state)).decode()


def _from_token(raw: str) -> tuple[dict[str, str], int, tuple[float, str]]:
    try:
        state = msgspec.json.decode(base64.urlsafe_b64decode(raw.encode()))
        return dict(state["f"]), int(state["l"]), (float(state["k"][0]), str(state["k"][1]))
    except (binascii.Error, msgspec.DecodeError, KeyError, TypeError, ValueError, IndexError):
        raise Refused(400, "Invalid page_token") from None


def list_threads(book: ShopBook, call: Call) -> Answer:
    """M11: threads, latest updated first, seek paging forward (``page_token`` carries the
    filters; Mirakl's ``previous_page_token`` is not served: nothing of ours pages back)."""
    if token := call.query.get("page_token"):
        filters, limit, key = _from_token(token)
    else:
        filters = {n: call.query[n] for n in THREAD_FILTERS if n in call.query}
        limit, key = query_int(call.query, "limit", THREAD_PAGE[0], (1, THREAD_PAGE[1])), None
    since = query_date(filters, "updated_since")
    matching = [t for t in book.threads.values() if since is None or t.updated >= since]
    ordered = sorted(matching, key=_sort_key, reverse=True)
    start = (
        0
        if key is None
        else next((i for i, t in enumerate(ordered) if _sort_key(t) < key), len(ordered))
    )
    page = ordered[start : start + limit]
    # Paged as none should (sandbox faults): a next page always named, from where it began.
    hostile = book.reply_faults.paged(ordered[:limit], key is not None)
    page = page if hostile is None else hostile
    with_messages = query_bool(filters, "with_messages")
    body: dict[str, Any] = {
        "data": [thread_json(book, t, LISTED_MESSAGES if with_messages else None) for t in page]
    }
    if hostile is not None:
        body["next_page_token"] = _token(filters, limit, key or (1e18, ""))
    elif start + limit < len(ordered) and page:
        body["next_page_token"] = _token(filters, limit, _sort_key(page[-1]))
    return Answer(200, body)


def _sort_key(thread: Thread) -> tuple[float, str]:
    return (thread.updated, thread.thread_id)


def get_thread(book: ShopBook, call: Call) -> Answer:
    """M10: one thread with all its messages."""
    thread = _thread(book, call.path["thread_id"])
    return Answer(200, thread_json(book, thread, len(thread.messages)))


# --- M12: writing -----------------------------------------------------------------


def reply(book: ShopBook, call: Call) -> Answer:
    """M12: the shop writes in a thread, to the customer and/or the operator; its
    ``message_input`` part as Mirakl's description has it (its body's length, its
    recipients' and topic's types: ``contract``)."""
    thread = _thread(book, call.path["thread_id"])
    parts = multipart(call.content_type, call.body)
    named = [p for p in parts if p.name == "message_input"]
    if len(named) != 1:
        raise Refused(400, "Exactly one message_input part is required")
    value = decoded(named[0].content, dict[str, Any], "message_input")
    if problems := DESCRIBED.body_problems("M12", value, "multipart/form-data", "message_input"):
        raise Refused(400, "; ".join(problems))
    # Each once (the description allows SHOP too: a shop does not write to itself).
    body, recipients = value["body"], tuple(dict.fromkeys(r["type"] for r in value["to"]))
    if not recipients or SHOP in recipients:
        raise Refused(400, "to must list CUSTOMER and/or OPERATOR")
    if len(thread.messages) >= MESSAGES_PER_THREAD:
        raise Refused(400, f"A thread holds at most {MESSAGES_PER_THREAD} messages")
    files = tuple(NewFile(p.filename or "file", p.content) for p in parts if p.name == "files")
    on_order = sum(1 for owner, _ in book.attachments.values() if owner is thread.order)
    if on_order + len(files) > ATTACHMENTS_PER_ORDER:
        raise Refused(400, f"At most {ATTACHMENTS_PER_ORDER} attachments on one order")
    if sum(len(f.content) for f in files) > MESSAGE_BYTES:
        raise Refused(400, "A message and its files are limited to 30 MB")
    message = book.write(thread, SHOP, *seller_reply(book, body, call.now), recipients, files)
    # What the shop sent (the admin's ``sent``: ``body`` as sent, when the thread shows it
    # rewritten).
    book.sent.append(
        {
            "operation": "M12",
            "threadId": thread.thread_id,
            "orderId": thread.order.order_id,
            "messageId": message.message_id,
            "to": list(message.to),
            "body": body,
            "files": [attachment.name for attachment in message.attachments],
            "at": iso_millis(call.now),
        }
    )
    return Answer(201, {"message_id": message.message_id, "thread_id": thread.thread_id})


def download(book: ShopBook, call: Call) -> Answer:
    """M13: an attachment's bytes."""
    attachment_id = call.path["attachment_id"]
    _, kept = found(book.attachments.get(attachment_id), f"Attachment {attachment_id} not found")
    return file_answer(kept.name, kept.content)


# --- OR11: orders -----------------------------------------------------------------------


def list_orders(book: ShopBook, call: Call) -> Answer:
    """OR11: the shop's orders by creation date, offset paging (``max``, ``offset``); the
    filters our connector asks (the description's others are accepted and ignored)."""
    query = call.query
    ids = _list(query, "order_ids")
    created = (query_date(query, "start_date"), query_date(query, "end_date"))
    updated = (query_date(query, "start_update_date"), query_date(query, "end_update_date"))
    size = query_int(query, "max", ORDER_PAGE[0], (1, ORDER_PAGE[1]))
    offset = query_int(query, "offset", 0, (0, 10**9))
    descending = query_choice(query, "order", ("asc", "desc")) == "desc"
    matching = [
        o
        for o in book.orders.values()
        if (not ids or o.order_id in ids)
        and within(o.created, created)
        and within(o.updated, updated)
    ]
    matching.sort(key=lambda o: (o.created, o.order_id), reverse=descending)
    page = matching[offset : offset + size]
    return Answer(
        200, {"orders": [order_json(book, o) for o in page], "total_count": len(matching)}
    )


# --- A21: statistics --------------------------------------------------------------------


def statistics(book: ShopBook, call: Call) -> Answer:
    """A21 with what the double computes, ``order_messages_response_delay`` (average
    seconds from a customer's message to the shop's next reply), over the shop's channels
    (our connector asks no ``channel_code``: accepted and ignored); the statistics nothing
    of ours reads are left out."""
    asked = _list(call.query, "periods") or set(A21_PERIODS)
    if not asked <= set(A21_PERIODS):
        raise Refused(400, f"periods among {', '.join(A21_PERIODS)}")
    periods = [p for p in A21_PERIODS if p in asked]
    body: dict[str, Any] = {
        "shop_id": book.shop_id,
        "last_updated_date": iso_millis(call.now),
        "order_messages_response_delay": [
            {"period": p, "value": response_delay(book, call.now - A21_PERIODS[p])} for p in periods
        ],
    }
    return Answer(200, body)


def response_delay(book: ShopBook, since: float) -> int:
    """Average whole seconds between a customer's message and the shop's next message in
    its thread, over the customer messages since ``since`` that were answered."""
    delays: list[float] = []
    for thread in book.threads.values():
        asked: float | None = None
        for message in thread.messages:
            if message.sender == CUSTOMER and asked is None and message.created >= since:
                asked = message.created
            elif message.sender == SHOP and asked is not None:
                delays.append(message.created - asked)
                asked = None
    return round(sum(delays) / len(delays)) if delays else 0


# Mirakl's operation code → its implementation; its method and path are the description's.
OPERATIONS: dict[str, Operation] = {
    "M11": list_threads,
    "M10": get_thread,
    "M12": reply,
    "M13": download,
    "OR11": list_orders,
    "A21": statistics,
}
