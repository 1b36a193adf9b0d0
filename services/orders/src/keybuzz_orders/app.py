"""HTTP endpoints of the orders service (docs/CONTRACTS.md, "HTTP endpoints"): the only module that knows HTTP.

Every endpoint is tenant-scoped (``tenant: TenantContext``: JWT + ``X-Tenant-Id``);
another tenant's order or job is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from keybuzz_shared.connectors.names import UNLABELLED_EVENT_MARKETPLACE
from keybuzz_shared.connectors.registry import marketplaces
from keybuzz_shared.http import (
    ErrorBody,
    domain_error_handlers,
    error_response,
    status_for,
)
from keybuzz_shared.service import Runtime
from keybuzz_shared.tenancy import TenantContext
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from keybuzz_orders import queries, schemas
from keybuzz_orders.backfill.backfill import Backfills
from keybuzz_orders.domain import OrderStatus
from keybuzz_orders.errors import (
    ERROR_STATUSES,
    MESSAGING_ERROR_STATUSES,
    REFUSAL_STATUSES,
)
from keybuzz_orders.messaging import MessageRequest, OrderMessaging
from keybuzz_orders.order_source import feed_connector, order_feed
from keybuzz_orders.schemas import (
    BackfillJob,
    BackfillJobList,
    BackfillRequest,
    MessagingActionSent,
    MessagingActionsView,
    OrderPage,
    OrderView,
    SendMessagingActionRequest,
)

BASE_PATH = "/api/v1/orders"
# How the docs name the marketplaces ("A, B or C") and the one with buyer messaging.
MARKETPLACE_NAMES = f"{', '.join(marketplaces()[:-1])} or {marketplaces()[-1]}"
MESSAGING = feed_connector().display_name


class OrdersController(Controller):
    path = BASE_PATH
    tags = ["orders"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @get(
        "/",
        operation_id="listOrders",
        summary="The tenant's orders, newest first (keyset pagination)",
    )
    async def list_orders(
        self,
        tenant: TenantContext,
        runtime: Runtime[Any],
        status: Annotated[list[OrderStatus] | None, Parameter(description="one or more")] = None,
        marketplace: Annotated[str | None, Parameter(description=MARKETPLACE_NAMES)] = None,
        date_from: Annotated[
            datetime | None, Parameter(query="from", description="ordered at or after")
        ] = None,
        date_to: Annotated[
            datetime | None, Parameter(query="to", description="ordered before")
        ] = None,
        q: Annotated[
            str | None, Parameter(description="order id or #ref, customer name/e-mail, SKU or ASIN")
        ] = None,
        cursor: Annotated[str | None, Parameter(description="nextCursor of the last page")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
    ) -> OrderPage:
        page = await queries.list_orders(
            runtime.pool,
            tenant.tenant_id,
            statuses=[s.value for s in status or []],
            marketplace=marketplace,
            date_from=date_from,
            date_to=date_to,
            search=q,
            cursor=cursor,
            limit=limit,
        )
        return OrderPage(
            orders=[schemas.order_view(row) for row in page.orders], next_cursor=page.next_cursor
        )

    @get("/{order_id:str}", operation_id="getOrder", summary="One order with its items")
    async def get_order(
        self,
        order_id: str,
        tenant: TenantContext,
        runtime: Runtime[Any],
        marketplace: Annotated[
            str | None,
            Parameter(description="look in this marketplace only (a ticket's `marketplace`)"),
        ] = None,
    ) -> OrderView:
        found = await queries.get_order(runtime.pool, tenant.tenant_id, order_id, marketplace)
        return schemas.order_view(found.order, found.items)

    @post(
        "/backfill",
        operation_id="startBackfill",
        status_code=202,
        summary="Import the tenant's orders of the last `days` days from one marketplace",
        description=f"`marketplace` ({', '.join(marketplaces())}; default "
        f"{UNLABELLED_EVENT_MARKETPLACE}) says whose orders. "
        "One job per tenant and marketplace: while one runs, its progress is returned "
        "(`alreadyRunning: true`) instead of starting another.",
    )
    async def start_backfill(
        self, data: BackfillRequest, tenant: TenantContext, backfills: Backfills
    ) -> Response[BackfillJob]:
        started = await backfills.start(
            tenant.tenant_id, data.days, trigger="http", marketplace=data.marketplace.value
        )
        job = schemas.backfill_job(started.job, already_running=not started.created)
        return Response(job, status_code=202)

    @get(
        "/backfill",
        operation_id="listBackfills",
        summary="The tenant's backfill jobs, newest first",
        description="What a page shows after a connection: the job `connection.connected` "
        "started is the first one.",
    )
    async def list_backfills(
        self,
        tenant: TenantContext,
        runtime: Runtime[Any],
        limit: Annotated[int, Parameter(ge=1, le=50)] = 10,
    ) -> BackfillJobList:
        jobs = await queries.recent_jobs(runtime.pool, tenant.tenant_id, limit)
        return BackfillJobList(jobs=[schemas.backfill_job(job) for job in jobs])

    @get("/backfill/{job_id:str}", operation_id="getBackfill", summary="Progress of a backfill job")
    async def backfill_progress(
        self, job_id: str, tenant: TenantContext, runtime: Runtime[Any]
    ) -> BackfillJob:
        job = await queries.get_job(runtime.pool, tenant.tenant_id, job_id)
        return schemas.backfill_job(job)


def _refusal(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    status = status_for(exc, REFUSAL_STATUSES) or 502
    message, details = order_feed().refusal(exc)
    return error_response(status, message, details)


class MessagingActionsController(Controller):
    """The marketplace's templated messages for one of the tenant's orders (the order
    feed's buyer messaging)."""

    path = BASE_PATH + "/{order_id:str}/messaging-actions"
    tags = ["messaging"]
    exception_handlers = {
        **domain_error_handlers(MESSAGING_ERROR_STATUSES),
        **{kind: _refusal for kind in REFUSAL_STATUSES},
    }

    @get(
        "/",
        operation_id="listMessagingActions",
        summary=f"The messaging actions {MESSAGING} allows for the order now",
    )
    async def list_actions(
        self, order_id: str, tenant: TenantContext, order_messaging: OrderMessaging
    ) -> MessagingActionsView:
        actions = await order_messaging.actions(tenant.tenant_id, order_id)
        return MessagingActionsView(order_id=order_id, actions=actions)

    @post(
        "/",
        operation_id="sendMessagingAction",
        status_code=201,
        summary=f"Send one templated message to the buyer through {MESSAGING}",
        description="`text` is required by confirmDeliveryDetails, confirmOrderDetails, "
        "confirmCustomizationDetails (800 characters) and unexpectedProblem, refused by "
        f"legalDisclosure and warranty. An action {MESSAGING} does not allow for the order "
        f"is a 409 with {MESSAGING}'s code and message in `details`.",
    )
    async def send_action(
        self,
        order_id: str,
        data: SendMessagingActionRequest,
        tenant: TenantContext,
        order_messaging: OrderMessaging,
    ) -> MessagingActionSent:
        request = MessageRequest(
            action=data.action,
            text=data.text,
            coverage_start_date=data.coverage_start_date,
            coverage_end_date=data.coverage_end_date,
        )
        await order_messaging.send(tenant.tenant_id, order_id, request)
        return MessagingActionSent(order_id=order_id, action=data.action, sent_at=datetime.now(UTC))


ROUTES = [OrdersController, MessagingActionsController]
