"""HTTP endpoints (docs/CONTRACTS.md, "HTTP endpoints"): tickets and polling, for the tenant of the caller's JWT."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from keybuzz_shared.auth import tenant_context
from keybuzz_shared.connectors.registry import marketplaces
from keybuzz_shared.http import ErrorBody, domain_error_handlers
from keybuzz_shared.tenancy import TenantContext
from litestar import Controller, Response, get, post, put
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_429_TOO_MANY_REQUESTS, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ASGIApp, Receive, Scope, Send

from keybuzz_poller.errors import ERROR_STATUSES
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.polling.status import poll_status
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies import queueing
from keybuzz_poller.replies.memory import RepliesBusy, TenantRepliesBusy
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.schemas import (
    PollResult,
    PollStatus,
    ReplyQueued,
    ReplyRequest,
    ReplySettings,
    ResponseAlertSettings,
    ResponseWindow,
    ResponseWindows,
    ShopPollStatus,
    poll_result_body,
    poll_status_body,
    reply_queued_body,
    reply_request_of,
    reply_settings_body,
    reply_settings_of,
    response_windows_body,
    shop_poll_status_body,
)
from keybuzz_poller.settings import REPLY_MAX_BODY_BYTES
from keybuzz_poller.shops.closing import close_ticket
from keybuzz_poller.shops.connections import calls_per_day, shop_statuses
from keybuzz_poller.ticket_view import TicketView, ticket_view
from keybuzz_poller.tickets import alerts, deadlines, queries, responses
from keybuzz_poller.tickets.response_times import ResponseTimes

ATTACHMENT_POSITIONS = 2**31 - 1  # the stored position's column is an integer

# A reply refused for memory is told to come back after the replies in flight have
# been stored: a maximum-size one takes one to two seconds (docs/BENCHMARKS.md).
REPLY_RETRY_AFTER_SECONDS = 2

# The response-time report's marketplace when none is asked for: the first one that
# measures the seller by a rule of its own.
REPORT_MARKETPLACE = next(iter(deadlines.rules()))


def hold_reply_memory(app: ASGIApp) -> ASGIApp:
    """Route middleware: the caller is authenticated and the reply's body held in the
    memory budget (replies/memory.py) before Litestar reads the body; given back once
    the answer has left. A stranger's body is never read."""

    async def gate(scope: Scope, receive: Receive, send: Send) -> None:
        runtime: PollerRuntime = scope["litestar_app"].state.runtime
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        tenant_id = tenant_context(connection, runtime.settings).tenant_id
        size = _body_size(connection)
        memory = runtime.component(PollerPorts).replies.memory
        try:
            memory.take(tenant_id, size)
        except TenantRepliesBusy as exc:
            raise _busy(HTTP_429_TOO_MANY_REQUESTS, exc) from None
        except RepliesBusy as exc:
            raise _busy(HTTP_503_SERVICE_UNAVAILABLE, exc) from None
        try:
            await app(scope, receive, send)
        finally:
            memory.give_back(tenant_id, size)

    return gate


def _body_size(connection: ASGIConnection[Any, Any, Any, Any]) -> int:
    """The declared length; a body without one (chunked) may be as long as the route reads."""
    declared = connection.headers.get("content-length", "")
    if declared.isdigit():
        return min(int(declared), REPLY_MAX_BODY_BYTES)
    return REPLY_MAX_BODY_BYTES


def _busy(status: int, exc: Exception) -> HTTPException:
    return HTTPException(
        status_code=status,
        detail=str(exc),
        headers={"Retry-After": str(REPLY_RETRY_AFTER_SECONDS)},
    )


def content_disposition(filename: str) -> str:
    """``attachment`` with the file's name (RFC 6266): an ASCII fallback, then UTF-8."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class PollerController(Controller):
    path = "/api/v1/poller"
    tags = ["polling"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @post("/poll", operation_id="pollNow", status_code=200, summary="Poll the tenant's mailbox now")
    async def poll(self, tenant: TenantContext, scheduler: Scheduler) -> PollResult:
        return poll_result_body(await scheduler.poll_now(tenant.tenant_id))

    @get(
        "/status",
        operation_id="getPollStatus",
        summary="When the tenant was polled, what came of it, how late it is",
    )
    async def status(self, tenant: TenantContext, ports: PollerPorts) -> PollStatus:
        return poll_status_body(await poll_status(ports.polling.schedule, tenant.tenant_id))

    @get(
        "/shops",
        operation_id="listShopPollStatus",
        summary="The tenant's shops polled over a marketplace's API: connection, polls, why the "
        "last one failed",
    )
    async def shops(self, tenant: TenantContext, ports: PollerPorts) -> list[ShopPollStatus]:
        statuses = await shop_statuses(ports.shop_polling, tenant.tenant_id)
        return [
            shop_poll_status_body(s, calls_per_day(ports.shops, s.marketplace)) for s in statuses
        ]

    @get(
        "/settings",
        operation_id="getReplySettings",
        summary="The tenant's reply settings (approved sender address)",
    )
    async def settings(self, tenant: TenantContext, ports: PollerPorts) -> ReplySettings:
        return reply_settings_body(await queueing.reply_settings(ports.replies, tenant.tenant_id))

    @put(
        "/settings",
        operation_id="setReplySettings",
        summary="Set the approved sender address replies go out from",
    )
    async def save_settings(
        self, tenant: TenantContext, ports: PollerPorts, data: ReplySettings
    ) -> ReplySettings:
        saved = await queueing.save_reply_settings(
            ports.replies, tenant.tenant_id, reply_settings_of(data)
        )
        return reply_settings_body(saved)


class ResponseTimesController(Controller):
    path = "/api/v1/response-times"
    tags = ["tickets"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @get(
        "/",
        operation_id="getResponseTimes",
        summary="Buyer messages answered in time and late over 7, 30 or 90 days, the "
        "marketplace's way (per buyer message), with the late ones",
    )
    async def response_times(
        self,
        tenant: TenantContext,
        ports: PollerPorts,
        marketplace: str = REPORT_MARKETPLACE,
        days: Annotated[int, Parameter(description="7, 30 or 90")] = 30,
        topic: Annotated[
            str | None,
            Parameter(
                description="only tickets about this (WHERE_IS_MY_ORDER … OTHER): the report "
                "split by topic, one call each"
            ),
        ] = None,
    ) -> ResponseTimes:
        return await responses.response_times_report(
            ports.tickets.tickets,
            tenant.tenant_id,
            marketplace,
            days,
            ports.clock(),
            ports.tickets.figures,
            topic,
        )


class ResponseAlertsController(Controller):
    path = "/api/v1/poller/response-alerts"
    tags = ["polling"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @get(
        "/",
        operation_id="getResponseAlertSettings",
        summary="How long before a response deadline ticket.response_due is emitted",
    )
    async def get_settings(
        self, tenant: TenantContext, ports: PollerPorts
    ) -> ResponseAlertSettings:
        lead = await alerts.lead_time(ports.tickets, tenant.tenant_id)
        return ResponseAlertSettings(lead_minutes=int(lead.total_seconds() // 60))

    @put(
        "/",
        operation_id="setResponseAlertSettings",
        summary="Set how long before a response deadline ticket.response_due is emitted",
    )
    async def save_settings(
        self, tenant: TenantContext, ports: PollerPorts, data: ResponseAlertSettings
    ) -> ResponseAlertSettings:
        lead = timedelta(minutes=data.lead_minutes)
        saved = await alerts.save_lead_time(ports.tickets, tenant.tenant_id, lead)
        return ResponseAlertSettings(lead_minutes=int(saved.total_seconds() // 60))


class ResponseDeadlinesController(Controller):
    path = "/api/v1/poller/response-deadlines"
    tags = ["tickets"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @get(
        "/",
        operation_id="getResponseWindows",
        summary="The response window per marketplace: the marketplaces' own rules, the "
        "default and the tenant's windows",
    )
    async def get_windows(self, tenant: TenantContext, ports: PollerPorts) -> ResponseWindows:
        return response_windows_body(await ports.tickets.tickets.response_windows(tenant.tenant_id))

    @put(
        "/",
        operation_id="setResponseWindow",
        summary="Set the tenant's response window for a marketplace without a rule of its own, "
        "or shorter than a rule that lets a tenant shorten it (longer: 400; a rule that "
        "does not: 409); its waiting tickets' deadlines follow",
    )
    async def save_window(
        self, tenant: TenantContext, ports: PollerPorts, data: ResponseWindow
    ) -> ResponseWindows:
        await responses.save_response_window(
            ports.tickets, tenant.tenant_id, data.marketplace, data.hours
        )
        return response_windows_body(await ports.tickets.tickets.response_windows(tenant.tenant_id))


class TicketController(Controller):
    path = "/api/v1/tickets"
    tags = ["tickets"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @get(
        "/",
        operation_id="listTickets",
        summary="The tenant's tickets, latest activity first (keyset pagination)",
    )
    async def list_tickets(
        self,
        tenant: TenantContext,
        ports: PollerPorts,
        status: str | None = None,
        order_id: Annotated[str | None, Parameter(query="orderId")] = None,
        marketplace: Annotated[
            str | None,
            Parameter(
                description=f"only this marketplace's tickets ({', '.join(marketplaces())}…)"
            ),
        ] = None,
        since: Annotated[
            datetime | None, Parameter(description="tickets with a message at or after this time")
        ] = None,
        cursor: Annotated[str | None, Parameter(description="nextCursor of the last page")] = None,
        limit: int = 50,
        response_state: Annotated[
            str | None,
            Parameter(
                query="responseState",
                description="AWAITING_REPLY, ANSWERED, NO_RESPONSE_NEEDED or OVERDUE",
            ),
        ] = None,
        sort: Annotated[
            str,
            Parameter(
                description="lastMessageAt (newest first) or respondBy (soonest deadline "
                "first, only tickets that have one)"
            ),
        ] = "lastMessageAt",
        language: Annotated[
            str | None,
            Parameter(description="only tickets in this language (BCP 47: fr, de, es…, und)"),
        ] = None,
        topic: Annotated[
            str | None,
            Parameter(
                description="only tickets about this (WHERE_IS_MY_ORDER, RETURN_OR_REFUND, "
                "DAMAGED_OR_WRONG_ITEM, CANCELLATION, INVOICE_REQUEST, PRODUCT_QUESTION, "
                "ORDER_CHANGE, OTHER)"
            ),
        ] = None,
    ) -> queries.TicketPage:
        query = queries.ticket_query(
            tenant.tenant_id,
            status,
            order_id,
            since,
            cursor,
            limit,
            response_state=response_state,
            sort=sort,
            marketplace=marketplace,
            language=language,
            topic=topic,
            now=ports.clock(),
        )
        return await queries.list_tickets(ports.tickets.tickets, query)

    @get(
        "/{ticket_id:str}",
        operation_id="getTicket",
        summary="A ticket with its messages, oldest first: direction and, for replies, delivery",
    )
    async def ticket(self, ticket_id: str, tenant: TenantContext, ports: PollerPorts) -> TicketView:
        return await _ticket_view(ports, tenant.tenant_id, ticket_id, ports.clock())

    @get(
        "/{ticket_id:str}/messages/{message_id:str}/attachments/{position:int}",
        operation_id="getMessageAttachment",
        summary="The content of a ticket message's attachment, by its position in the "
        "message's list (a marketplace's downloaded file; a mail's are listed, not stored)",
        media_type="application/octet-stream",
        responses={404: ResponseSpec(ErrorBody, description="no such attachment stored")},
    )
    async def attachment(
        self,
        ticket_id: str,
        message_id: str,
        position: Annotated[int, Parameter(ge=0, le=ATTACHMENT_POSITIONS)],
        tenant: TenantContext,
        ports: PollerPorts,
    ) -> Response[bytes]:
        found = await queries.attachment_content(
            ports.tickets, tenant.tenant_id, ticket_id, message_id, position
        )
        # Always a download, never rendered as a page of ours: the type is the sender's word.
        return Response(
            found.content,
            media_type=found.content_type,
            headers={
                "Content-Disposition": content_disposition(found.filename),
                "X-Content-Type-Options": "nosniff",
            },
        )

    @post(
        "/{ticket_id:str}/no-response-needed",
        operation_id="markNoResponseNeeded",
        status_code=200,
        summary="Mark the buyer's messages so far as needing no response (who: the caller)",
    )
    async def no_response_needed(
        self, ticket_id: str, tenant: TenantContext, ports: PollerPorts
    ) -> TicketView:
        now = ports.clock()
        await responses.mark_no_response_needed(
            ports.tickets, tenant.tenant_id, ticket_id, tenant.principal.user_id, now
        )
        return await _ticket_view(ports, tenant.tenant_id, ticket_id, now)

    @post(
        "/{ticket_id:str}/close",
        operation_id="closeTicket",
        status_code=200,
        summary="Close the ticket on its marketplace, then here (once: a ticket CLOSED already "
        "is not asked again); a marketplace that cannot: 409",
        responses={
            409: ResponseSpec(ErrorBody, description="the marketplace cannot, or refused: why"),
            503: ResponseSpec(ErrorBody, description="the marketplace is unavailable: retry"),
        },
    )
    async def close(self, ticket_id: str, tenant: TenantContext, ports: PollerPorts) -> TicketView:
        await close_ticket(ports.closing, tenant.tenant_id, ticket_id)
        return await _ticket_view(ports, tenant.tenant_id, ticket_id, ports.clock())

    @post(
        "/{ticket_id:str}/replies",
        operation_id="replyToTicket",
        status_code=202,
        summary="Reply to the buyer through the marketplace's mail relay or API (queued; sent in "
        "the background)",
        # Bodies a little past the relay's limit still reach the checks, so the answer names
        # it; beyond this Litestar answers a bare 413 before reading the body
        # (Content-Length) or as soon as it passes it.
        request_max_body_size=REPLY_MAX_BODY_BYTES,
        middleware=[hold_reply_memory],
        responses={
            429: ResponseSpec(ErrorBody, description="the tenant's memory budget is held: retry"),
            503: ResponseSpec(ErrorBody, description="the instance's memory budget is held: retry"),
        },
    )
    async def reply(
        self,
        ticket_id: str,
        tenant: TenantContext,
        ports: PollerPorts,
        data: ReplyRequest,
    ) -> ReplyQueued:
        queued = await queueing.queue_reply(
            ports.replies, tenant.tenant_id, ticket_id, reply_request_of(data)
        )
        return reply_queued_body(queued)


async def _ticket_view(
    ports: PollerPorts, tenant_id: str, ticket_id: str, now: datetime
) -> TicketView:
    return await ticket_view(
        ports.tickets.tickets, ports.replies.replies, tenant_id, ticket_id, now
    )
