"""A Fnac/Darty shop's session on the kit's parts (docs/FNAC.md, "The connector seam")."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast, get_args

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.connectors.kit import Listing, Node
from keybuzz_shared.connectors.seam import read_each
from keybuzz_shared.times import as_utc

from keybuzz_connector_fnac import models
from keybuzz_connector_fnac.client import (
    SPEC,
    FnacClient,
    carried,
    read_incident,
    read_message,
    xml_instant,
)

log = logging.getLogger(__name__)
T = TypeVar("T")  # an item, read

# What a numbered page says: whether more pages follow, its listing's items (None: unsaid).
Count = tuple[bool, int | None]


# A window as a listing's query: ``min`` and, where it ends, ``max``, as requests write them.
iso_window = Listing.window_query("min", "max", xml_instant)


class Pages(msgspec.Struct, array_like=True, frozen=True):
    """A listing's cursor (its layout kept: backfill jobs store it): its window,
    the page to read next, the window's items at the last page read (-1: not known)."""

    low: datetime
    high: datetime | None
    page: int
    total: int = -1


class Renumbered(Listing.Paging[T, Pages, Count]):
    """Pages 1, 2 … of ``size`` items while a next page follows; ``step_back``: a total
    shrunk reads the items moved up onto the pages read (docs/FNAC.md, "The connector seam")."""

    state = Pages
    ATTEMPTS = 3  # small pages asked while more leave, before stepping back

    def __init__(self, size: int, *, step_back: bool = True) -> None:
        self.size = size
        self.step_back = step_back

    def first(self, low: datetime, high: datetime | None, *, updated: bool) -> Pages:
        return Pages(low, high, 1)

    def valid(self, state: Pages, *, updated: bool) -> bool:
        return state.page >= 1

    async def step(
        self, state: Pages, ask: Listing.PageRequest[Count], read: Listing.Read[T]
    ) -> Listing.PageRead[T, Pages]:
        raw, (more, total) = await ask(state, {"page": str(state.page)})
        items, unreadable = read(raw)
        count, page = -1 if total is None else total, state.page + 1
        if self.step_back and state.page > 1 and 0 <= count < state.total:
            moved, gone, page = await self._moved_up(state, ask, read, count)
            items, unreadable = items + moved, unreadable + gone
        more = page <= state.page or Listing.follows("Renumbered listing", raw, more)
        following = Pages(state.low, state.high, page, count) if more else None
        return Listing.PageRead(items, unreadable, following)

    async def _moved_up(
        self, state: Pages, ask: Listing.PageRequest[Count], read: Listing.Read[T], count: int
    ) -> tuple[tuple[T, ...], tuple[str, ...], int]:
        """The items moved up onto the pages read; none where a page left (docs/FNAC.md)."""
        read_to = (state.page - 1) * self.size
        for _ in range(self.ATTEMPTS):
            sizes = range(state.total - count, self.size + 1)
            size = next((s for s in sizes if read_to % s == 0), None)
            if size is None:
                break
            raw, (_, total) = await ask(state, {"page": str(read_to // size), "size": str(size)})
            if total is None:
                break
            if state.total - total <= size:  # it holds all that left
                return (*read(raw), state.page + 1)
            count = total
        return (), (), max(1, (read_to - state.total + count) // self.size + 1)


# Fnac may list an item a little after its date: a listing by date starts this early.
LISTING_OVERLAP = timedelta(minutes=5)
# Fnac's max is inclusive: a window by creation asks a second less, to keep it half-open.
half_open = Listing.window_query(
    "min", "max", xml_instant, end_written=lambda end: xml_instant(end - timedelta(seconds=1))
)
CURRENCY = "EUR"  # Fnac and Darty sell in France: their prices carry no currency
CLAIM_SUBJECT = "Nouvelle réclamation"
NOTICE_SUBJECT = CLAIM_SUBJECT.lower()  # as subjects are compared
RECIPIENTS: dict[seam.Recipient, models.MessageTo] = {
    "BUYER": "CLIENT",
    "MARKETPLACE_SUPPORT": "CALLCENTER",
    "ALL": "ALL",
}
# Fnac's threads, an order's or an offer's (it has no discussion of its own): each kind's
# name at Fnac, and a reply's subject there unless the reply names one of Fnac's.
THREADS: dict[str, tuple[models.MessageType, models.MessageSubject]] = {
    "ORDER": ("ORDER", "order_information"),
    "OFFER": ("OFFER", "product_information"),
}
# A claim's ``opened_by`` is ``client`` when the buyer opened it, else Fnac's staff did.
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=tuple(RECIPIENTS),
    support_sender="",
    claim_subject=CLAIM_SUBJECT,
    threads=frozenset(THREADS),
    carried=carried,
    codes=models.refusal_codes,
    buyer_opener="client",
)


# common.xsd's order_id_restriction; in free text, a 13-character word holding a digit.
ORDER_IDS = kit.OrderIdPattern(
    "[0-9A-Za-z]{13}",
    "a Fnac/Darty one (13 letters and digits)",
    keep=lambda word: any(c.isdigit() for c in word),
)
# Fnac's order states in KeyBuzz's order vocabulary (docs/FNAC.md, "Order states").
ORDER_STATES = kit.ListedOrders.States(
    Created=("PENDING", None),  # waiting for the seller to accept its lines
    Accepted=("PENDING", None),  # accepted, the buyer not debited yet: not to ship
    Refused=("CANCELLED", None),  # the seller refused every line
    ToShip=("CONFIRMED", "PREPARING"),  # debited: the seller ships it
    Shipped=("SHIPPED", "SHIPPED"),
    NotReceived=("SHIPPED", "DELAYED"),  # the buyer says it has not come
    Received=("DELIVERED", "DELIVERED"),
    Cancelled=("CANCELLED", None),
    Refunded=("RETURNED", None),  # every line refunded
    Error=("PENDING", None),  # Fnac could not process it: nothing to ship yet
)
# A line's state: its order's of the same word; one still to accept is "ToAccept".
LINE_STATES: dict[str, str] = {
    "ToAccept": "PENDING",
    **{state: status for state, (status, _) in ORDER_STATES.items() if state != "Created"},
}


def line_status(state: str) -> str:
    return LINE_STATES.get(state, "PENDING")


def session_of(client: FnacClient, limits: seam.Limits) -> kit.KitSession:
    shop = FnacShop(client, limits)
    orders = kit.ListedOrders(
        updated=kit.Listing(shop.by_date, iso_window, shop.pages(models.OrdersQuery, "UpdatedAt")),
        created=kit.Listing(
            shop.by_date, half_open, shop.pages(models.OrdersQuery, "CreatedAt", sort="ASC")
        ),
        by_id=kit.ListedOrders.InLists(
            shop.orders_named, models.MAX_ORDER_IDS, askable=ORDER_IDS.is_order_id
        ),
        read=_order,
        calls=client,
        overlap=LISTING_OVERLAP,
    )
    replies = kit.DeclaredReplies(
        "Fnac",
        "thread of an order or an offer",
        post=shop.post,
        read_back=shop.sent,
        threads=DISCUSSIONS.threads,
        recipients=DISCUSSIONS.recipients,
        limits=limits,
        carried=DISCUSSIONS.carried,
    )
    return kit.KitSession(shop, replies, orders, verify=client.authenticate)


class FnacShop:
    """One shop's inbox, and the calls its replies and orders are declared on."""

    def __init__(self, client: FnacClient, limits: seam.Limits) -> None:
        self.client = client
        self.limits = limits
        self.by_date = Renumbered[Any](limits.page_size)
        self._by_page = Renumbered[Any](limits.page_size, step_back=False)

    # --- the inbox ---------------------------------------------------------------------------
    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> seam.Page[seam.InboxMessage]:
        listing = kit.Listing(self._by_page, iso_window, self._messages_since())
        return await listing.page(cursor, since, None, lambda raw: read_each(raw, read_message))

    messages = inbox_messages  # the seam's other name for the same listing

    async def incidents(
        self, *, since: datetime, cursor: str | None = None
    ) -> seam.Page[seam.InboxIncident]:
        fetch = self.pages(models.IncidentsQuery, "UpdatedAt", sort="ASC")
        listing = kit.Listing(self._by_page, iso_window, fetch)
        return await listing.page(cursor, since, None, lambda raw: read_each(raw, read_incident))

    async def file(self, file: seam.InboxFile, max_bytes: int) -> bytes:
        return await self.client.get_bytes(file.url, max_bytes)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        updates = [models.MessageUpdate(message_id=i, action="mark_as_read") for i in message_ids]
        results = await self.client.messages_update(updates)
        return sum(1 for r in results if not r.ok)  # e.g. a message Fnac does not list

    # --- replies ----------------------------------------------------------------------------
    async def post(self, reply: seam.Reply) -> str | None:
        """A messages_update on the message it answers; refused: FAILED, never sent again."""
        kind, usual = THREADS[reply.thread.kind]
        own = reply.subject if reply.subject in get_args(models.MessageSubject) else None
        update = models.MessageUpdate(
            message_id=reply.in_reply_to,
            action="reply",
            to=RECIPIENTS[reply.recipient],
            subject=cast(models.MessageSubject, own or usual),
            text=reply.body,
            message_type=kind,
        )
        try:
            results = await self.client.messages_update([update])
        except models.FnacProtocolError as exc:  # Fnac answered, in a shape we do not read
            raise SPEC.errors.outcome_unknown("messages_update", exc.reason) from None
        if refused := [r for r in results if not r.ok]:
            codes = ", ".join(e.code for r in refused for e in r.errors) or refused[0].status
            return f"Fnac refused the reply: {codes}"
        return None

    async def sent(self, thread: seam.ThreadKey, since: datetime) -> list[seam.InboxMessage]:
        """The seller's messages on one of Fnac's threads since ``since``."""
        order_ids = (thread.id,) if thread.kind == "ORDER" else ()
        fetch = self._messages_since(
            from_types=("SELLER",), message_type=THREADS[thread.kind][0], order_ids=order_ids
        )
        listing = kit.Listing(self._by_page, iso_window, fetch)
        start = listing.start(as_utc(since) - LISTING_OVERLAP, None, updated=True)
        logged = Listing.logged_each(read_message, log, "Fnac message", self.client.shop)
        found = await listing.every(start, logged)  # each message left out logged
        return [m for m in found.items if m.thread == thread]

    # --- Fnac's calls as the kit's listings ----------------------------------------------------
    def pages(
        self, query: Callable[..., models.Paged], date: str, **filters: Any
    ) -> kit.Listing.Fetch[Count]:
        """The listing's call: a page's ``query`` of its number, size, window by ``date``."""

        async def fetch(params: dict[str, str], _link: str | None) -> tuple[list[Node], Count]:
            window = models.DateRange(type=date, min=params["min"], max=params.get("max"))
            size, number = int(params.get("size", self.limits.page_size)), int(params["page"])
            asked = query(page=number, results_count=size, date=window, **filters)
            page = await self.client.listed(asked)
            return list(page.items), (page.paging.has_next, page.paging.nb_total_result)

        return fetch

    def _messages_since(self, **filters: Any) -> kit.Listing.Fetch[Count]:
        """messages_query of a window by creation, oldest first (``filters``: its others)."""
        sort = models.ByCreation("ASC")
        return self.pages(models.MessagesQuery, "CreatedAt", sort=sort, **filters)

    async def orders_named(self, joined: str) -> list[Any]:
        ids = tuple(joined.split(","))
        asked = models.OrdersQuery(order_ids=ids, results_count=models.MAX_ORDER_IDS)
        return list((await self.client.listed(asked)).items)


# --- Fnac's orders as the seam's --------------------------------------------------------------
def _order(item: Node) -> seam.OrderSummary:
    order = item.decode(models.Order)
    status, delivery = ORDER_STATES[order.state]
    shipped = [d.shipped_at for d in order.details if d.shipped_at is not None]
    received = [d.received_at for d in order.details if d.received_at is not None]
    tracking = [d.tracking_number for d in order.details if d.tracking_number]
    return seam.OrderSummary(
        external_id=order.order_id,
        state=order.state,
        status=status,
        delivery_status=delivery,
        created_at=order.created_at,
        updated_at=order.last_change,
        buyer_name=" ".join(n for n in (order.client_firstname, order.client_lastname) if n)
        or None,
        shipped_at=max(shipped, default=None),
        delivered_at=max(received, default=None),
        tracking_code=tracking[-1] if tracking else None,
        lines=tuple(
            seam.OrderLine(
                line_id=d.order_detail_id,
                state=d.state,
                status=line_status(d.state),
                product_name=d.product_name,
                quantity=d.quantity,
                seller_sku=d.offer_seller_id,
                unit_price=d.price,
                currency=CURRENCY if d.price is not None else None,
            )
            for d in order.details
        ),
    )
