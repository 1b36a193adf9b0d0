"""The Fnac/Darty connector: the seam (``seam``) on FnacClient, for FNAC and DARTY alike.

Fnac publishes no limits; the ones below are assumptions, each stated in docs/FNAC.md
("Limits and assumptions"). A listing is a fixed window [since - overlap, now at the first
page] read oldest first, page by page: messages arriving meanwhile fall in the next
listing, never shift this one's pages; the overlap repeats a few items, which callers
drop by external id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar, get_args

import httpx
import msgspec
from keybuzz_shared.connectors.kit import OrderIdPattern, key_field, require_fields
from keybuzz_shared.connectors.seam import (
    ConnectorDefaults,
    CredentialField,
    InboxMessage,
    Limits,
    OrderLine,
    OrderSummary,
    Page,
    Recipient,
    Reply,
    ReplyOutcome,
    SenderType,
    ShopApi,
    ShopApiSettings,
    ThreadKey,
    cursor_of,
    state_of,
)
from keybuzz_shared.file_links import NO_FILES, FileLinks
from keybuzz_shared.times import as_utc

from keybuzz_connector_fnac import order_states, shop_inbox
from keybuzz_connector_fnac.client import FnacClient, FnacCredentials, carried_text
from keybuzz_connector_fnac.credential_check import FnacCredentialCheck
from keybuzz_connector_fnac.errors import (
    FnacOutcomeUnknown,
    FnacProtocolError,
    FnacRequestRefused,
    refusal_codes,
)
from keybuzz_connector_fnac.models import (
    MAX_ORDER_IDS,
    DateRange,
    Message,
    MessagesQuery,
    MessageSubject,
    MessageTo,
    MessageType,
    MessageUpdate,
    Order,
    OrdersQuery,
    Paging,
)
from keybuzz_connector_fnac.settings import FnacApiSettings
from keybuzz_connector_fnac.shop_inbox import FnacInbox

log = logging.getLogger(__name__)
T = TypeVar("T")

UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def _uuid_field(name: str, json_name: str, label: str, *, account: bool = False) -> CredentialField:
    """An id as Fnac's account managers give it: a UUID, which Fnac writes in upper case (one
    spelling keeps "one shop, one tenant" exact)."""
    return CredentialField(
        name=name,
        json_name=json_name,
        label=label,
        pattern=UUID_PATTERN,
        format="UUID",
        max_length=36,
        case="upper",
        account=account,
    )


CREDENTIAL_FIELDS = (
    _uuid_field("partner_id", "partnerId", "Partner ID"),
    _uuid_field("shop_id", "shopId", "Shop ID", account=True),
    key_field("key", "API key", max_length=256),
)
# Fnac's order ids (Darty's too): common.xsd's order_id_restriction, 13 letters and
# digits; in free text a 13-character word holding a digit (else it is a word).
ORDER_IDS = OrderIdPattern(
    "[0-9A-Za-z]{13}",
    "a Fnac/Darty one (13 letters and digits)",
    keep=lambda word: any(c.isdigit() for c in word),
)

LIMITS = Limits(
    # The 2018 XSD has no attachment in a reply, and the newer format is not published.
    max_attachments=0,
    max_attachment_bytes=0,
    max_text_length=2000,  # the sandbox double's assumption too
    page_size=100,  # results_count's default in the XSDs
)
# Fnac and Darty sell in France: their prices carry no currency, and are euros.
CURRENCY = "EUR"
# Fnac may list a message a little after its created_at: each listing starts this much
# before ``since``.
LISTING_OVERLAP = timedelta(minutes=5)

SENDERS: dict[str, SenderType] = {
    "CLIENT": "BUYER",
    "CALLCENTER": "MARKETPLACE_SUPPORT",
    "SELLER": "SELLER",
    "SYSTEM": "SYSTEM",
}
RECIPIENTS: dict[Recipient, MessageTo] = {
    "BUYER": "CLIENT",
    "MARKETPLACE_SUPPORT": "CALLCENTER",
    "ALL": "ALL",
}
# Fnac's threads are an order's or an offer's; it has no discussion of its own.
THREAD_KINDS = frozenset({"ORDER", "OFFER"})


class _Window(msgspec.Struct, array_like=True, frozen=True):
    """A listing's cursor: its fixed date window, the page to read next, and how many
    items the window held at the last page read (-1: not known)."""

    since: datetime
    until: datetime
    page: int
    total: int = -1


def _window(since: datetime, cursor: str | None) -> _Window:
    if cursor is not None:
        return state_of(cursor, _Window)
    return _Window(since=as_utc(since) - LISTING_OVERLAP, until=datetime.now(UTC), page=1)


def _next(window: _Window, paging: Paging, page_size: int) -> tuple[str | None, datetime | None]:
    """The next page's cursor, or (None, the window's end) after the last page.

    Pages are numbered, so when items already read leave the window (an order updated
    after ``until``), the rest move up and the next page would skip as many: the listing
    steps back by that many items instead (repeats are dropped by the caller)."""
    total = paging.nb_total_result if paging.nb_total_result is not None else -1
    left = window.total - total if total >= 0 and window.total > total else 0
    if left:
        page = max(1, ((window.page - 1) * page_size - left) // page_size + 1)
        return cursor_of(_Window(window.since, window.until, page, total)), None
    if paging.has_next:
        return cursor_of(_Window(window.since, window.until, window.page + 1, total)), None
    return None, window.until


class FnacConnector(ConnectorDefaults):
    """Serves one of FNAC or DARTY: one API, a Darty shop being a shop_id of its own. Its
    parts: its own shop API, a credential check. The seller types the shop's key (no
    redirect flow); buyers write and orders come through the API (no inbound address, mail
    relay or order feed); no response rule or figure of Fnac's own: the poller's default
    window, or the tenant's."""

    credential_fields = CREDENTIAL_FIELDS
    limits = LIMITS
    settings_type = FnacApiSettings  # both marketplaces'

    def __init__(self, marketplace: str, display_name: str) -> None:
        self.marketplace = marketplace
        self.display_name = display_name
        self.shop_api: ShopApi | None = self
        self.credential_check = FnacCredentialCheck()
        self.order_ids = ORDER_IDS

    def credentials_path(self, tenant_id: str) -> str:
        """The shop's ``partner_id``, ``shop_id`` and ``key`` (``FNAC`` → ``…/fnac_api``)."""
        return f"secret/keybuzz/tenants/{tenant_id}/{self.marketplace.lower()}_api"

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> FnacSession:
        require_fields(self.credential_fields, credentials, self.marketplace)
        client = FnacClient(
            http,
            settings.api_url,
            FnacCredentials(
                partner_id=credentials["partner_id"],
                shop_id=credentials["shop_id"],
                key=credentials["key"],
            ),
        )
        return FnacSession(client, self.limits, files or NO_FILES)

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        """Every thread of Fnac's takes messages to the buyer, its customer service, or both."""
        return tuple(RECIPIENTS) if thread.kind in THREAD_KINDS else ()

    def reply_text(self, text: str) -> str:
        return carried_text(text)

    def refusal_codes(self, outcome: ReplyOutcome) -> tuple[str, ...]:
        """Fnac's ``ERR_…`` codes named in a refusal's reason (``reply`` lists them)."""
        return refusal_codes(outcome.reason or "")

    @property
    def claim_subject(self) -> str:
        return shop_inbox.CLAIM_SUBJECT

    def claim_opener(self, opened_by: str | None) -> SenderType:
        return shop_inbox.claim_opener(opened_by)

    def __repr__(self) -> str:
        return f"FnacConnector({self.marketplace!r})"


class FnacSession(FnacInbox):
    """One shop: the message source, inbox, reply channel and order source of the seam."""

    def __init__(
        self, client: FnacClient, limits: Limits = LIMITS, files: FileLinks = NO_FILES
    ) -> None:
        self.client = client
        self.limits = limits
        self.files = files  # where its messages' files may be fetched from

    async def verify(self) -> None:
        await self.client.authenticate()

    async def messages(self, *, since: datetime, cursor: str | None = None) -> Page[InboxMessage]:
        window = _window(since, cursor)
        page = await self.client.messages_query(
            MessagesQuery(
                page=window.page,
                results_count=self.limits.page_size,
                created=(window.since, window.until),
                sort="ASC",
            )
        )
        self._report_unreadable("message", page.unreadable)
        return self._page(window, page.paging, tuple(_message(m) for m in page.messages))

    async def reply(self, reply: Reply) -> ReplyOutcome:
        """FnacUnavailable (nothing was sent), FnacOutcomeUnknown (the answer was lost or
        unreadable after the request left: read ``sent_messages`` back before sending it
        again) and FnacCredentialsRefused are raised; every other failure is a FAILED
        outcome, never sent again."""
        body = carried_text(reply.body)
        problem = self._unsendable(body, reply)
        if problem:
            return ReplyOutcome(status="FAILED", reason=problem)
        update = MessageUpdate(
            message_id=reply.in_reply_to,
            action="reply",
            to=RECIPIENTS[reply.recipient],
            subject=_subject(reply),
            text=body,
            message_type=_message_type(reply.thread),
        )
        try:
            results = await self.client.messages_update([update])
        except FnacRequestRefused as exc:
            return ReplyOutcome(status="FAILED", reason=str(exc))
        except FnacProtocolError as exc:  # Fnac answered, in a shape we do not read
            raise FnacOutcomeUnknown("messages_update", exc.reason) from None
        refused = [r for r in results if not r.ok]
        if refused:
            codes = ", ".join(e.code for r in refused for e in r.errors) or refused[0].status
            return ReplyOutcome(status="FAILED", reason=f"Fnac refused the reply: {codes}")
        return ReplyOutcome(status="SENT")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        if thread.kind not in THREAD_KINDS:
            return []  # a thread Fnac does not have holds nothing
        found: list[InboxMessage] = []
        page = 1
        while True:
            listed = await self.client.messages_query(
                MessagesQuery(
                    page=page,
                    results_count=self.limits.page_size,
                    created=(as_utc(since) - LISTING_OVERLAP, None),
                    from_types=("SELLER",),
                    message_type=_message_type(thread),
                    order_ids=(thread.id,) if thread.kind == "ORDER" else (),
                    sort="ASC",
                )
            )
            self._report_unreadable("message", listed.unreadable)
            found += [m for m in map(_message, listed.messages) if m.thread == thread]
            if not listed.paging.has_next:
                return found
            page += 1

    def _unsendable(self, body: str, reply: Reply) -> str | None:
        if not body.strip():
            return "empty reply"
        if len(body) > self.limits.max_text_length:
            return f"reply longer than {self.limits.max_text_length} characters"
        if len(reply.attachments) > self.limits.max_attachments:
            return f"Fnac takes at most {self.limits.max_attachments} attachments"
        if reply.recipient not in RECIPIENTS or reply.thread.kind not in THREAD_KINDS:
            return f"Fnac has no {reply.recipient} to write to on an {reply.thread.kind} thread"
        return None

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        window = _window(since, cursor)
        page = await self.client.orders_query(
            OrdersQuery(
                page=window.page,
                results_count=self.limits.page_size,
                date=DateRange(type="UpdatedAt", min=window.since, max=window.until),
            )
        )
        self._report_unreadable("order", page.unreadable)
        return self._page(window, page.paging, tuple(_order(o) for o in page.orders))

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        window = (
            state_of(cursor, _Window)
            if cursor is not None
            else _Window(as_utc(start), as_utc(end), 1)
        )
        page = await self.client.orders_query(
            OrdersQuery(
                page=window.page,
                results_count=self.limits.page_size,
                # Fnac's max is inclusive; a second less keeps [start, end) half-open.
                date=DateRange(
                    type="CreatedAt", min=window.since, max=window.until - timedelta(seconds=1)
                ),
                sort="ASC",
            )
        )
        self._report_unreadable("order", page.unreadable)
        return self._page(window, page.paging, tuple(_order(o) for o in page.orders))

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        """An id outside Fnac's format names no order: not asked (Fnac would refuse the
        whole query as off its schema, ERR_003), so it is answered as not found."""
        wanted = [o for o in dict.fromkeys(order_ids) if ORDER_IDS.is_order_id(o)]
        found: list[OrderSummary] = []
        for start in range(0, len(wanted), MAX_ORDER_IDS):
            chunk = tuple(wanted[start : start + MAX_ORDER_IDS])
            page = await self.client.orders_query(
                OrdersQuery(order_ids=chunk, results_count=MAX_ORDER_IDS)
            )
            self._report_unreadable("order", page.unreadable)
            found += [_order(o) for o in page.orders]
        return found

    def _page(self, window: _Window, paging: Paging, items: tuple[T, ...]) -> Page[T]:
        next_cursor, complete_until = _next(window, paging, self.limits.page_size)
        return Page(items=items, next_cursor=next_cursor, complete_until=complete_until)

    def _report_unreadable(self, kind: str, unreadable: Sequence[str]) -> None:
        for reason in unreadable:
            log.warning(
                "Fnac %s left out: unreadable",
                kind,
                extra={"shop_id": self.client.credentials.shop_id, "reason": reason},
            )


def _message(message: Message) -> InboxMessage:
    """The message as its inbox lists it, in the thread its referer names."""
    return msgspec.structs.replace(
        shop_inbox._message(message),
        thread=ThreadKey(
            kind="OFFER" if message.referer_type == "OFFER" else "ORDER", id=message.referer
        ),
    )


def _order(order: Order) -> OrderSummary:
    status, delivery = order_states.order_status(order.state)
    names = (order.client_firstname, order.client_lastname)
    shipped = [d.shipped_at for d in order.details if d.shipped_at is not None]
    received = [d.received_at for d in order.details if d.received_at is not None]
    tracking = [d.tracking_number for d in order.details if d.tracking_number]
    return OrderSummary(
        external_id=order.order_id,
        state=order.state,
        status=status,
        delivery_status=delivery,
        created_at=order.created_at,
        updated_at=order.last_change,
        buyer_name=" ".join(n for n in names if n) or None,
        shipped_at=max(shipped, default=None),
        delivered_at=max(received, default=None),
        tracking_code=tracking[-1] if tracking else None,
        lines=tuple(
            OrderLine(
                line_id=d.order_detail_id,
                state=d.state,
                status=order_states.line_status(d.state),
                product_name=d.product_name,
                quantity=d.quantity,
                seller_sku=d.offer_seller_id,
                unit_price=d.price,
                currency=CURRENCY if d.price is not None else None,
            )
            for d in order.details
        ),
    )


def _message_type(thread: ThreadKey) -> MessageType:
    """Fnac's name of a thread's kind (its own two: ``reply`` refuses any other first)."""
    return "OFFER" if thread.kind == "OFFER" else "ORDER"


def _subject(reply: Reply) -> MessageSubject:
    """The reply's subject when it is one of Fnac's, else the usual one for the thread."""
    for subject in get_args(MessageSubject):
        if subject == reply.subject:
            return subject  # type: ignore[no-any-return]
    return "order_information" if reply.thread.kind == "ORDER" else "product_information"
