"""Bodies of the poller's polling, settings and reply endpoints, HTTP and NATS micro
(camelCase), and the one mapping between them and the use cases' values, shared by both
transports: the use cases never see a body, the wire never sees a domain struct.

Tickets keep their bodies next to their reads (``tickets/queries.py``, ``ticket_view.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from keybuzz_shared.connectors.registry import served
from keybuzz_shared.connectors.seam import Recipient

from keybuzz_poller.polling import domain
from keybuzz_poller.replies import checks, queueing
from keybuzz_poller.shops.connection_ports import ShopStatus
from keybuzz_poller.tickets import deadlines


class Body(msgspec.Struct, kw_only=True, rename="camel"):
    """camelCase on the wire, as the events."""


class PollResult(Body):
    tenant_id: str
    fetched: int
    stored: int
    duplicates: int
    unparsed: int


class PollStatus(Body):
    tenant_id: str
    scheduled: bool  # False: no enabled inbound address has been seen for the tenant
    polling: bool = False
    next_poll_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    messages_fetched: int = 0
    lag_seconds: float | None = None  # since the last successful poll


class ShopPollStatus(Body):
    """A shop of the tenant polled over its marketplace's API: its connection as the poller follows it, its polls."""

    marketplace: str
    seller_id: str  # the shop's id at the marketplace
    connection: str  # CONNECTED (polled), DISCONNECTED, REAUTH_REQUIRED (the key was refused)
    polling: bool
    next_poll_at: datetime | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None  # why the last poll failed; retried with back-off
    last_error_at: datetime | None
    consecutive_failures: int
    messages_fetched: int
    # False: no connector serves the marketplace now (removed from its catalogue); the shop
    # stays connected and is not polled until it is served again (``notServed`` says so).
    marketplace_served: bool = True
    not_served: str | None = None
    # Its daily allowance of listing calls, when its marketplace has one; null otherwise.
    allowance: ShopAllowance | None = None


class ShopAllowance(Body):
    """A shop's daily allowance of listing calls (per UTC day) and what is left of it."""

    calls_per_day: int
    calls_today: int  # spent since 00:00 UTC
    calls_left: int


def shop_poll_status_body(status: ShopStatus, calls_per_day: int | None) -> ShopPollStatus:
    fields = msgspec.structs.asdict(status)
    today = fields.pop("calls_today")
    allowance = (
        None
        if calls_per_day is None
        else ShopAllowance(
            calls_per_day=calls_per_day,
            calls_today=today,
            calls_left=max(0, calls_per_day - today),
        )
    )
    body = ShopPollStatus(**fields, allowance=allowance)
    if served(status.marketplace):
        return body
    reason = (
        f"marketplace {status.marketplace} is not served now: the shop stays connected, "
        "its tickets kept, and is polled again when the marketplace is served again"
    )
    return msgspec.structs.replace(body, marketplace_served=False, not_served=reason)


class ReplySettings(Body, forbid_unknown_fields=True):
    reply_from_address: str | None = None


class AttachmentIn(Body, forbid_unknown_fields=True):
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content_type: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content_base64: str


class ReplyRequest(Body, forbid_unknown_fields=True):
    text: str
    # At most checks.MAX_ATTACHMENTS, refused while the body is decoded.
    attachments: Annotated[list[AttachmentIn], msgspec.Meta(max_length=checks.MAX_ATTACHMENTS)] = []
    # Sent by a rule (a template), not written by an agent: it does not answer the buyer
    # as the marketplace counts it, so the response deadline keeps running.
    automatic: bool = False
    # Whom it is for, among those the marketplace offers on the ticket's thread; none: the
    # buyer (or customer care while the order's incident is open). A mail: the buyer only.
    recipient: Recipient | None = None


class ReplyQueued(Body):
    ticket_message_id: str
    ticket_id: str
    message_id: str  # the mail's RFC 5322 Message-ID
    status: str = "QUEUED"


def poll_result_body(result: domain.PollResult) -> PollResult:
    return PollResult(**msgspec.structs.asdict(result))


def poll_status_body(status: domain.PollStatus) -> PollStatus:
    return PollStatus(**msgspec.structs.asdict(status))


def reply_settings_body(settings: queueing.ReplySettings) -> ReplySettings:
    return ReplySettings(reply_from_address=settings.reply_from_address)


def reply_settings_of(body: ReplySettings) -> queueing.ReplySettings:
    return queueing.ReplySettings(reply_from_address=body.reply_from_address)


def reply_request_of(body: ReplyRequest) -> checks.ReplyRequest:
    return checks.ReplyRequest(
        text=body.text,
        attachments=[
            checks.AttachmentIn(
                filename=a.filename, content_type=a.content_type, content_base64=a.content_base64
            )
            for a in body.attachments
        ],
        automatic=body.automatic,
        recipient=body.recipient,
    )


def reply_queued_body(queued: queueing.ReplyQueued) -> ReplyQueued:
    return ReplyQueued(**msgspec.structs.asdict(queued))


class ResponseWindow(Body, forbid_unknown_fields=True):
    # A tenant's response window for a marketplace without a rule of its own (1 to 720 h),
    # or shorter than the rule of one whose rule lets a tenant shorten it.
    marketplace: str
    hours: int


class ResponseWindows(msgspec.Struct, kw_only=True, rename="camel"):
    # The marketplaces with a rule of their own (not overridable, or where the rule lets a
    # tenant shorten it, the longest window) and the default window.
    fixed: dict[str, int]
    default_hours: int
    windows: list[ResponseWindow]


def response_windows_body(windows: dict[str, int]) -> ResponseWindows:
    return ResponseWindows(
        fixed={m: int(r.window.total_seconds() // 3600) for m, r in deadlines.rules().items()},
        default_hours=int(deadlines.DEFAULT_RULE.window.total_seconds() // 3600),
        windows=[ResponseWindow(marketplace=m, hours=h) for m, h in windows.items()],
    )


class ResponseAlertSettings(Body, forbid_unknown_fields=True):
    # How long before a response deadline ticket.response_due is emitted.
    lead_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] = 120
