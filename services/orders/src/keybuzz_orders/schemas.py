"""HTTP and NATS bodies of the orders service (msgspec, camelCase JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from keybuzz_shared.connectors.names import (
    ORDER_MARKETPLACE_STATUS_FIELD,
    UNLABELLED_EVENT_MARKETPLACE,
)
from keybuzz_shared.connectors.orders import MessagingAction
from keybuzz_shared.connectors.registry import served
from keybuzz_shared.ids import TenantId

from keybuzz_orders.backfill.jobs import BackfillDays, JobCounts, JobView, job_progress
from keybuzz_orders.backfill.jobs import ReportWindow as JobWindow
from keybuzz_orders.domain import Marketplace, OrderLine, OrderStatus, OrderSummary, sla_status


class _Body(msgspec.Struct, kw_only=True, rename="camel"):
    pass


# A request that names no marketplace means the one an unlabelled event means.
DEFAULT_MARKETPLACE = Marketplace(UNLABELLED_EVENT_MARKETPLACE)


class BackfillRequest(_Body, forbid_unknown_fields=True):
    days: BackfillDays = 90
    marketplace: Marketplace = DEFAULT_MARKETPLACE  # whose orders: one job per marketplace


class OperatorBackfillRequest(_Body):
    tenant_id: TenantId
    days: BackfillDays | None = None
    marketplace: Marketplace = DEFAULT_MARKETPLACE


class OperatorSyncRequest(_Body):
    tenant_id: TenantId


class ReportWindow(_Body):
    """``jobs.ReportWindow`` as HTTP shows it (no searchOrders token, no request time).

    One 30-day window of a REPORT job: PENDING (requested/processing), FALLBACK (its
    report failed or passed its deadline: read by searchOrders), DONE; ``imported``: orders stored from it."""

    start: str
    end: str
    state: str
    imported: int
    report_id: str | None = None
    note: str | None = None


class BackfillJob(JobCounts, kw_only=True, rename="camel"):
    """A job and its counters (``JobCounts``: pages, orders, created, …)."""

    job_id: str
    tenant_id: str
    marketplace: str  # one of registry.marketplaces()
    status: str  # RUNNING | COMPLETED | FAILED | CANCELLED
    trigger: str
    days: int
    created_after: str  # the window's start, as sent to the marketplace
    created_before: datetime | None  # the marketplace's cursor: complete up to here
    last_error: str | None
    reason: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    progress: float  # 0..1, through the time window
    eta_seconds: float | None
    # SEARCH or REPORT, decided on the first page (null before it), and why.
    strategy: str | None = None
    strategy_reason: str | None = None
    phase: str | None = None  # REPORT jobs: REPORTS, then TAIL (searchOrders)
    report_windows: list[ReportWindow] | None = None
    already_running: bool = False
    # A RUNNING job whose marketplace is not served now: paused where it stands, why.
    not_served: str | None = None


class BackfillJobList(_Body):
    jobs: list[BackfillJob]


def backfill_job(job: JobView, *, already_running: bool = False) -> BackfillJob:
    progress, eta = job_progress(job, datetime.now(UTC))
    return BackfillJob(
        **msgspec.structs.asdict(job.counts),
        job_id=job.job_id,
        tenant_id=job.tenant_id,
        marketplace=job.marketplace,
        status=job.status,
        trigger=job.trigger,
        days=job.days,
        created_after=job.created_after,
        created_before=job.created_before,
        last_error=job.last_error,
        reason=job.reason,
        started_at=job.started_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        progress=progress,
        eta_seconds=eta,
        strategy=job.strategy,
        strategy_reason=job.strategy_reason,
        phase=job.phase,
        report_windows=_windows(job.report_windows),
        already_running=already_running,
        not_served=_paused(job),
    )


def _paused(job: JobView) -> str | None:
    if job.status != "RUNNING" or served(job.marketplace):
        return None
    return (
        f"marketplace {job.marketplace} is not served now: the job is paused where it "
        "stands and goes on from there when it is served again"
    )


def _windows(windows: list[JobWindow] | None) -> list[ReportWindow] | None:
    if windows is None:
        return None
    return [
        ReportWindow(
            start=w.start,
            end=w.end,
            state=w.state,
            imported=w.imported,
            report_id=w.report_id,
            note=w.note,
        )
        for w in windows
    ]


class OrderItemView(_Body):
    external_item_id: str
    sku: str | None
    asin: str | None
    title: str | None
    quantity: int
    unit_price: str | None  # decimal as text: no float rounding of money
    currency: str | None
    marketplace_state: str | None = None  # the line's own state; null where none is given
    refunded_amount: str | None = None  # refunded on the line (decimal as text); null: none said


class OrderView(_Body):
    id: str
    external_order_id: str
    order_ref: str
    marketplace: str
    marketplace_id: str | None
    customer_name: str | None
    customer_email: str | None
    order_date: datetime
    currency: str | None
    total_amount: str | None
    order_status: str
    marketplace_status: str | None = msgspec.field(name=ORDER_MARKETPLACE_STATUS_FIELD)
    delivery_status: str | None
    sav_status: str
    sla_status: str
    ship_by: datetime | None
    carrier: str | None
    tracking_code: str | None
    shipping_address: dict[str, Any] | None
    fulfillment_channel: str | None
    # Where the marketplace sold it, in its own words (a marketplace operator's channel);
    # null when it names none.
    sales_channel: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    items: list[OrderItemView] | None = None


def order_view(row: OrderSummary, items: list[OrderLine] | None = None) -> OrderView:
    address = row.shipping_address
    return OrderView(
        id=row.id,
        external_order_id=row.external_order_id,
        order_ref=row.order_ref,
        marketplace=row.marketplace,
        marketplace_id=row.marketplace_id,
        customer_name=row.customer_name,
        customer_email=row.customer_email,
        order_date=row.order_date,
        currency=row.currency,
        total_amount=row.total_amount,
        order_status=row.order_status,
        marketplace_status=row.marketplace_status,
        delivery_status=row.delivery_status,
        sav_status=row.sav_status,
        sla_status=sla_status(OrderStatus(row.order_status), row.ship_by, datetime.now(UTC)),
        ship_by=row.ship_by,
        carrier=row.carrier,
        tracking_code=row.tracking_code,
        shipping_address=json.loads(address) if address else None,
        fulfillment_channel=row.fulfillment_channel,
        sales_channel=row.sales_channel,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        items=None
        if items is None
        else [OrderItemView(**msgspec.structs.asdict(i)) for i in items],
    )


class OrderPage(_Body):
    orders: list[OrderView]
    next_cursor: str | None


# --- messaging actions (an order feed's buyer messaging; keybuzz_orders.messaging) ---------------------------


class MessagingActionsView(_Body):
    order_id: str
    actions: list[str]  # what the marketplace allows for the order now


class SendMessagingActionRequest(_Body, forbid_unknown_fields=True):
    action: MessagingAction
    # Required by the text actions, refused by legalDisclosure/warranty (a fixed template).
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None
    coverage_start_date: datetime | None = None  # warranty only
    coverage_end_date: datetime | None = None  # warranty only


class MessagingActionSent(_Body):
    order_id: str
    action: MessagingAction
    sent_at: datetime
