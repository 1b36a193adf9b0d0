"""Back Market's seller API operations over one shop's book: what each answers, or the
error it refuses with (``Refused``). HTTP, tokens, headers, limits and faults are
routes.py's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from keybuzz_sandbox.double_kit.api import (
    Answer,
    Paging,
    Refused,
    ShopCall,
    found,
    multipart,
    page_link,
    page_of,
    query_date,
    query_read,
    seller_reply,
)
from keybuzz_sandbox.faults import no_hostile_paging

from .book import MERCHANT, Folder, ShopBook
from .contract import DESCRIBED
from .double import bm_time
from .shops import merchant_id
from .wire import folder_details, folder_summary, order_json

FOLDER_PAGE = 10  # official
ORDER_PAGE = 10  # page-size's default (official)
MAX_FILES, MAX_FILE_BYTES = 10, 3 * 1024 * 1024  # official: 10 files of 3 MB
# Official: GET /ws/orders leaves out new orders (0) and orders not paid (8).
HIDDEN_ORDER_STATES = (0, 8)


class Call(ShopCall, frozen=True, kw_only=True):
    files_url: str  # where attachments are downloaded


Operation = Callable[[ShopBook, Call], Answer]
Links = dict[str, str | None]
T = TypeVar("T")


# --- parameters -----------------------------------------------------------------------


def _minute_time(raw: str) -> float:
    """A care folder filter's date, ``YYYY-MM-DD-hh-mm`` (official), UTC (assumed)."""
    return datetime.strptime(raw, "%Y-%m-%d-%H-%M").replace(tzinfo=UTC).timestamp()


def _page(
    call: Call, items: Sequence[T], size: int, paged: Paging = no_hostile_paging
) -> tuple[list[T], Links]:
    """The page asked (from 1) and its ``next``/``previous`` URLs; a page past the last
    is 404 (assumed, as Django REST framework's paging answers)."""
    page = int(call.query.get("page", "1"))  # an integer, as the description checks
    shown, more = page_of(items, page, size, paged)
    if page < 1 or (page > 1 and not shown and not more):  # a hostile page says more
        raise Refused(404, "Invalid page.", "not-found")

    return shown, {
        "next": page_link(call, page=str(page + 1)) if more else None,
        "previous": page_link(call, page=str(page - 1)) if page > 1 else None,
    }


def _folder(book: ShopBook, call: Call) -> Folder:
    raw = call.path["careFolderId"]
    folder = book.folders.get(int(raw)) if raw.isdigit() else None
    return found(folder, "Care Folder does not exist", "not-found")


# --- care folders -----------------------------------------------------------------------


def list_folders(book: ShopBook, call: Call) -> Answer:
    """GET /ws/sav: the shop's care folders by id, 10 a page, from a last message's minute
    (the filter our connector asks; the description's others are accepted and ignored)."""
    refused = Refused(400, "last_message_date must be YYYY-MM-DD-hh-mm", "invalid-parameter")
    written = query_read(call.query, "last_message_date", _minute_time, refused)
    matching = [
        f
        for f in sorted(book.folders.values(), key=lambda f: f.folder_id)
        if written is None or f.last_message >= written
    ]
    results, links = _page(call, matching, FOLDER_PAGE, book.reply_faults.paged)
    body = {
        "count": len(results),  # official: "Number of Care Folders on the current page"
        **links,
        "results": [folder_summary(book, f) for f in results],
    }
    return Answer(200, body)


def get_folder(book: ShopBook, call: Call) -> Answer:
    """GET /ws/sav/{careFolderId}: the folder with its messages, claims and order line."""
    return Answer(200, folder_details(book, _folder(book, call), call.files_url))


def post_message(book: ShopBook, call: Call) -> Answer:
    """POST /ws/sav/{careFolderId}/msg: the shop writes (multipart); a closed folder
    reopens (official)."""
    folder = _folder(book, call)
    parts = multipart(call.content_type, call.body, "invalid-payload")
    files = tuple(
        (p.filename or "file", p.content)
        for p in parts
        if p.name == "attachment" and p.filename is not None
    )
    # A file elsewhere than in ``attachment`` is a field named as sent, for the description
    # to refuse.
    form: dict[str, Any] = {p.name: p.filename or p.content.decode(errors="replace") for p in parts}
    form["attachment"] = [name for name, _ in files]
    if problems := DESCRIBED.body_problems("postMessage", form, "multipart/form-data"):
        raise Refused(400, "; ".join(problems), "invalid-payload")
    text = str(form["message"]).strip()
    if not text:
        raise Refused(400, "message must not be empty", "invalid-payload")
    if len(files) > MAX_FILES:
        raise Refused(400, f"At most {MAX_FILES} files", "invalid-payload")
    if any(len(content) > MAX_FILE_BYTES for _, content in files):
        raise Refused(400, "A file is limited to 3 MB", "invalid-payload")
    message = book.write(folder, MERCHANT, *seller_reply(book, text, call.now), files=files)
    book.sent.append(
        {
            "folderId": folder.folder_id,
            "messageId": message.message_id,
            "message": text,
            "files": [name for name, _ in files],
            "at": bm_time(call.now),
        }
    )
    sender = merchant_id(book.spec.number)
    attachments = [
        {
            "msg": message.message_id,
            "group": folder.folder_id,
            "sender": sender,
            "attachment": f"/care/{folder.folder_id}/{a.attachment_id}/{a.name}",
        }
        for a in message.attachments
    ]
    body: dict[str, Any] = {
        "id": message.message_id,
        "message": text,
        "date_creation": bm_time(message.created),
        "group": folder.folder_id,
        "sender": sender,
        "attachments": attachments,
    }
    if attachments:
        body["attachment"] = attachments[0]
    return Answer(201, body)


# --- orders -----------------------------------------------------------------------------


def list_orders(book: ShopBook, call: Call) -> Answer:
    """GET /ws/orders: the shop's orders by id, created (``date_creation``) or modified
    (``date_modification``) at or after a date (assumed), ``page-size`` a page; without
    the states a listing hides (the description's other filters accepted and ignored)."""
    query = call.query
    created, modified = query_date(query, "date_creation"), query_date(query, "date_modification")
    size = int(query.get("page-size", "0")) or ORDER_PAGE  # to 50, as the description checks
    if size < 1:
        raise Refused(400, "page-size must be at least 1", "invalid-parameter")
    matching = [
        o
        for o in sorted(book.orders.values(), key=lambda o: o.order_id)
        if o.state not in HIDDEN_ORDER_STATES
        and (created is None or o.created >= created)
        and (modified is None or o.modified >= modified)
    ]
    results, links = _page(call, matching, size)
    return Answer(
        200, {"count": len(matching), **links, "results": [order_json(o) for o in results]}
    )


def get_order(book: ShopBook, call: Call) -> Answer:
    raw = call.path["order_id"]
    order = book.orders.get(int(raw)) if raw.isdigit() else None
    return Answer(200, order_json(found(order, f"Order {raw} does not exist", "not-found")))


# What the double answers each of Back Market's operations, by its id: its method and path
# are the description's (``contract.operation``).
OPERATIONS: dict[str, Operation] = {
    "getCareFolderList": list_folders,
    "getCareFolderDetails": get_folder,
    "postMessage": post_message,
    "get-ws-list-order": list_orders,
    "get-ws-specific-order": get_order,
}
