"""HTTP endpoints (docs/CONTRACTS.md, "HTTP endpoints"): tickets and polling, for the tenant of the caller's JWT."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from keybuzz_shared.http import domain_error_handlers
from keybuzz_shared.tenancy import TenantContext
from litestar import Controller, get, post, put
from litestar.params import Parameter

from keybuzz_poller.errors import ERROR_STATUSES
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.polling.status import poll_status
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies import queueing
from keybuzz_poller.replies.checks import MAX_ATTACHMENT_BYTES, ReplyRequest
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.schemas import (
    PollResult,
    PollStatus,
    ReplySettings,
    poll_result_body,
    poll_status_body,
    reply_settings_body,
    reply_settings_of,
)
from keybuzz_poller.ticket_view import TicketView, ticket_view
from keybuzz_poller.tickets import queries

# A reply's JSON carries up to 10 MB of attachments in base64 (13.3 MiB) plus its text
# (100,000 characters, at most 600 kB escaped) and up to 20 file names. Bodies a little past
# that still reach the checks, so the answer names Amazon's limit; beyond this Litestar
# answers a bare 413 before reading the body (Content-Length) or as soon as it passes it.
REPLY_MAX_BODY_BYTES = 2 * MAX_ATTACHMENT_BYTES


class PollerController(Controller):
    path = "/api/v1/poller"
    tags = ["polling"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @post("/poll", status_code=200, summary="Poll the tenant's mailbox now")
    async def poll(self, tenant: TenantContext, scheduler: Scheduler) -> PollResult:
        return poll_result_body(await scheduler.poll_now(tenant.tenant_id))

    @get("/status", summary="When the tenant was polled, what came of it, how late it is")
    async def status(self, tenant: TenantContext, ports: PollerPorts) -> PollStatus:
        return poll_status_body(await poll_status(ports.polling.schedule, tenant.tenant_id))

    @get("/settings", summary="The tenant's reply settings (approved sender address)")
    async def settings(self, tenant: TenantContext, runtime: PollerRuntime) -> ReplySettings:
        return reply_settings_body(await queueing.reply_settings(runtime, tenant.tenant_id))

    @put("/settings", summary="Set the approved sender address replies go out from")
    async def save_settings(
        self, tenant: TenantContext, runtime: PollerRuntime, data: ReplySettings
    ) -> ReplySettings:
        saved = await queueing.save_reply_settings(
            runtime, tenant.tenant_id, reply_settings_of(data)
        )
        return reply_settings_body(saved)


class TicketController(Controller):
    path = "/api/v1/tickets"
    tags = ["tickets"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @get("/", summary="The tenant's tickets, latest activity first (keyset pagination)")
    async def list_tickets(
        self,
        tenant: TenantContext,
        runtime: PollerRuntime,
        status: str | None = None,
        order_id: Annotated[str | None, Parameter(query="orderId")] = None,
        since: Annotated[
            datetime | None, Parameter(description="tickets with a message at or after this time")
        ] = None,
        cursor: Annotated[str | None, Parameter(description="nextCursor of the last page")] = None,
        limit: int = 50,
    ) -> queries.TicketPage:
        query = queries.ticket_query(tenant.tenant_id, status, order_id, since, cursor, limit)
        return await queries.list_tickets(runtime, query)

    @get(
        "/{ticket_id:str}",
        summary="A ticket with its messages, oldest first: direction and, for replies, delivery",
    )
    async def ticket(
        self, ticket_id: str, tenant: TenantContext, runtime: PollerRuntime
    ) -> TicketView:
        return await ticket_view(runtime, tenant.tenant_id, ticket_id)

    @post(
        "/{ticket_id:str}/replies",
        status_code=202,
        summary="Reply to the buyer through Amazon's relay (queued; sent in the background)",
        request_max_body_size=REPLY_MAX_BODY_BYTES,
    )
    async def reply(
        self,
        ticket_id: str,
        tenant: TenantContext,
        runtime: PollerRuntime,
        data: ReplyRequest,
    ) -> queueing.ReplyQueued:
        return await queueing.queue_reply(runtime, tenant.tenant_id, ticket_id, data)
