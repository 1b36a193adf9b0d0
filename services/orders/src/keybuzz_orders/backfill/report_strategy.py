"""Large histories through the orders report.

``plan_strategy`` (pure) decides from a job's first ``searchOrders`` page: the page's
density predicts the window's size; up to ``BACKFILL_REPORT_THRESHOLD`` orders the job
goes on by ``searchOrders`` (``SEARCH``), beyond it by reports (``REPORT``), since
every further page costs quota. A REPORT job requests one order report per 30-day
window at once, imports each window's document in batches side by side (each batch
commits with the window's count, so a crash resumes inside it), reads a window whose
report fails or passes its deadline by ``searchOrders`` instead, and ends with a
``searchOrders`` tail from an hour before the reports' end, whose answer gives the
cursor the incremental sync starts from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from keybuzz_shared.amazon import SearchOrdersQuery, SpApiClient, SpApiNotFound
from keybuzz_shared.amazon.reports import FAILED_STATUSES, ORDERS_BY_ORDER_DATE, ReportsClient
from keybuzz_shared.amazon.spapi import SearchOrdersPage
from keybuzz_shared.amazon.times import amazon_time, parse_amazon_time
from keybuzz_shared.ids import AMAZON
from keybuzz_shared.service import Runtime

from keybuzz_orders import store
from keybuzz_orders.backfill import metrics
from keybuzz_orders.backfill import store as job_store
from keybuzz_orders.backfill.jobs import (
    REPORT,
    SEARCH,
    JobCounts,
    JobStopped,
    ReportWindow,
    WindowState,
    decode_windows,
)
from keybuzz_orders.domain import OrderRow, ReportLineError, order_row, report_order_row
from keybuzz_orders.settings import OrdersSettings

log = logging.getLogger(__name__)

BATCH_ORDERS = 500  # orders per unit of work while a document is read
# Order reports select orders by when they became fulfillable (up to 30 minutes after
# their creation): the tail starts an hour before the reports end, so none is missed.
TAIL_OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class StrategyPlan:
    strategy: str
    reason: str
    windows: list[ReportWindow] | None = None
    tail_after: str | None = None


@dataclass(frozen=True)
class JobContext:
    """What a job's step needs from the process running it: no more than that."""

    runtime: Runtime[OrdersSettings]
    spapi: SpApiClient
    owner: str  # this process's name on the jobs it leases

    @property
    def settings(self) -> OrdersSettings:
        return self.runtime.settings

    @property
    def lease_seconds(self) -> float:
        return self.settings.backfill_lease_seconds


def plan_strategy(
    settings: OrdersSettings, created_after: str, page: SearchOrdersPage, rows: list[OrderRow]
) -> StrategyPlan:
    """SEARCH or REPORT, from the job's first page (see the module doc)."""
    if page.next_token is None:
        return StrategyPlan(SEARCH, f"the window holds {len(rows)} orders: one page")
    start = parse_amazon_time(created_after)
    end = page.created_before or max(r.order_date for r in rows)
    newest = max((r.order_date for r in rows), default=start)
    covered = (newest - start).total_seconds()
    span = (end - start).total_seconds()
    estimate = len(rows) * span / covered if covered > 0 else float("inf")
    shown = "many" if estimate == float("inf") else f"~{round(estimate)}"
    threshold = settings.backfill_report_threshold
    if estimate <= threshold:
        return StrategyPlan(SEARCH, f"estimated {shown} orders ≤ {threshold}: searchOrders")
    report_end = end - timedelta(hours=settings.backfill_report_tail_hours)
    if report_end <= newest:  # what the reports would cover is read already
        return StrategyPlan(SEARCH, f"estimated {shown} orders, all within the tail")
    windows = report_windows(start, report_end, settings.backfill_report_window_days)
    return StrategyPlan(
        REPORT,
        f"estimated {shown} orders > {threshold}: {len(windows)} order reports, "
        f"then searchOrders for the last {settings.backfill_report_tail_hours:g} h",
        windows=windows,
        tail_after=amazon_time(report_end - TAIL_OVERLAP),
    )


def report_windows(start: datetime, end: datetime, days: int) -> list[ReportWindow]:
    windows: list[ReportWindow] = []
    while start < end:
        stop = min(start + timedelta(days=days), end)
        windows.append(ReportWindow(start=amazon_time(start), end=amazon_time(stop)))
        start = stop
    return windows


def _no_progress(waits: int = 0) -> job_store.PageProgress:
    return job_store.PageProgress(JobCounts(rate_limit_waits=waits))


class ReportSteps:
    """One step of a REPORT job per call: request, poll, import a batch, or fall back."""

    def __init__(self, job_context: JobContext) -> None:
        self.context = job_context
        self.reports = ReportsClient(job_context.spapi)

    @property
    def settings(self) -> OrdersSettings:
        return self.context.settings

    async def step(self, job: asyncpg.Record) -> None:
        windows = decode_windows(job["report_windows"]) or []
        if missing := [w for w in windows if w.state is WindowState.PENDING and not w.report_id]:
            await self._request(job, windows, missing)
            return
        if all(w.state is WindowState.DONE for w in windows):
            await self._save(
                job, _no_progress(), job_store.ReportState(windows=windows, phase="TAIL")
            )
            return
        # Every open window on its own: one is imported while Amazon still processes
        # the others, and the imports overlap each other's waits (download, database).
        try:
            async with asyncio.TaskGroup() as group:
                for index, window in enumerate(windows):
                    if window.state is not WindowState.DONE:
                        group.create_task(self._finish_window(job, windows, index))
        except BaseExceptionGroup as failed:
            raise _first_cause(failed) from None  # what _run decides on (wait, stop, fail)

    async def _finish_window(
        self, job: asyncpg.Record, windows: list[ReportWindow], index: int
    ) -> None:
        """Poll the window's report until it is imported, or read the window by searchOrders."""
        window = windows[index]
        while window.state is WindowState.PENDING and window.report_id:
            if not await self._poll(job, windows, index):
                await asyncio.sleep(self.settings.backfill_report_poll_seconds)
        while window.state is WindowState.FALLBACK:
            await self._fallback_page(job, windows, index)

    async def _request(
        self, job: asyncpg.Record, windows: list[ReportWindow], missing: list[ReportWindow]
    ) -> None:
        """All windows' reports at once: Amazon processes them side by side."""
        waits = 0
        for window in missing:
            reply = await self.reports.create_report(
                job["tenant_id"],
                ORDERS_BY_ORDER_DATE,
                [job["marketplace_id"]],
                parse_amazon_time(window.start),
                parse_amazon_time(window.end),
            )
            window.report_id, waits = reply.value, waits + reply.rate_limit_waits
            # Our clock, only for the deadline of a report stuck in processing.
            window.requested_at = _now()
        # A crash before this commit requests them again: reports cost no data.
        await self._save(job, _no_progress(waits), job_store.ReportState(windows=windows))

    async def _poll(self, job: asyncpg.Record, windows: list[ReportWindow], index: int) -> bool:
        """True when the window moved on (imported, fell back, or requested again)."""
        window = windows[index]
        try:
            assert window.report_id is not None  # polled only once requested
            reply = await self.reports.get_report(job["tenant_id"], window.report_id)
        except SpApiNotFound:  # gone (Amazon keeps order reports 30 days): ask again
            window.report_id, window.imported = None, 0
            window.note = "report not found: requested again"
            await self._save(job, _no_progress(), job_store.ReportState(window=(index, window)))
            return True
        metrics.rate_limit_waits(reply.rate_limit_waits)
        report = reply.value
        if report.processing_status == "DONE" and report.report_document_id:
            await self._import(job, windows, index, report.report_document_id)
            return True
        if report.processing_status in FAILED_STATUSES:
            log.warning(
                "order report ended %s; reading its window with searchOrders",
                report.processing_status,
                extra={"job_id": job["job_id"], "window": window.start},
            )
            window.state, window.note = WindowState.FALLBACK, f"report {report.processing_status}"
            await self._save(job, _no_progress(), job_store.ReportState(window=(index, window)))
            return True
        deadline = self.settings.backfill_report_deadline_seconds
        # A window without a request time starts counting when first polled.
        if window.requested_at is msgspec.UNSET:
            window.requested_at = _now()
        if _now() - window.requested_at > deadline:
            log.warning(
                "order report still %s after %g s; reading its window with searchOrders",
                report.processing_status,
                deadline,
                extra={"job_id": job["job_id"], "window": window.start},
            )
            note = f"report still {report.processing_status} after {deadline:g} s"
            window.state, window.note = WindowState.FALLBACK, note
            await self._save(job, _no_progress(), job_store.ReportState(window=(index, window)))
            return True
        return False

    async def _import(
        self, job: asyncpg.Record, windows: list[ReportWindow], index: int, document_id: str
    ) -> None:
        """Stream the document; each batch commits with the window's count of stored orders."""
        window = windows[index]
        reply = await self.reports.get_report_document(job["tenant_id"], document_id)
        waits = reply.rate_limit_waits
        skip = window.imported  # stored before a crash: same report, same order
        batch: list[list[dict[str, str]]] = []
        async for lines in _orders_of(self.reports.rows(reply.value)):
            if skip:
                skip -= 1
                continue
            batch.append(lines)
            if len(batch) >= BATCH_ORDERS:
                await self._store_batch(job, windows, index, batch, waits, last=False)
                batch, waits = [], 0
        await self._store_batch(job, windows, index, batch, waits, last=True)

    async def _store_batch(
        self,
        job: asyncpg.Record,
        windows: list[ReportWindow],
        index: int,
        batch: list[list[dict[str, str]]],
        waits: int,
        *,
        last: bool,
    ) -> None:
        rows: list[OrderRow] = []
        errors = 0
        for lines in batch:
            try:
                row = report_order_row(lines, job["marketplace_id"])
            except (ReportLineError, ValueError) as exc:
                errors += 1
                log.warning(
                    "report line unreadable; counted as an error",
                    extra={"job_id": job["job_id"], "reason": str(exc)[:200]},
                )
                continue
            rows.append(row)
        window = windows[index]
        window.imported += len(batch)
        if last:
            window.state = WindowState.DONE
        async with self.context.runtime.unit_of_work() as uow:
            counts = await store.upsert_orders(
                uow.conn, job["tenant_id"], AMAZON, rows, partial=True
            )
            # Only Amazon's answer to the tail sets the job's cursor; report pages aren't pages.
            counts = counts.but(errors=errors, rate_limit_waits=waits)
            progress = job_store.PageProgress.of_rows(rows, counts)
            await self._checkpoint(
                uow.conn, job, progress, job_store.ReportState(window=(index, window))
            )
        metrics.page_stored("report", counts)

    async def _fallback_page(
        self, job: asyncpg.Record, windows: list[ReportWindow], index: int
    ) -> None:
        """The window's report failed: the same window through searchOrders, page by page."""
        window = windows[index]
        query = SearchOrdersQuery(
            marketplace_ids=[job["marketplace_id"]],
            created_after=window.start,
            created_before=window.end,
            max_results_per_page=self.settings.backfill_page_size,
            pagination_token=window.token,
        )
        page = await self.context.spapi.search_orders(job["tenant_id"], query)
        orders, bad = page.decode_orders()
        rows = [order_row(o) for o in orders]
        window.token = page.next_token
        if page.next_token is None:
            window.state = WindowState.DONE
        async with self.context.runtime.unit_of_work() as uow:
            counts = await store.upsert_orders(uow.conn, job["tenant_id"], AMAZON, rows)
            counts = counts.but(pages=1, errors=len(bad), rate_limit_waits=page.rate_limit_waits)
            progress = job_store.PageProgress.of_rows(rows, counts)
            await self._checkpoint(
                uow.conn, job, progress, job_store.ReportState(window=(index, window))
            )
        metrics.page_stored("search", counts)

    async def _save(
        self, job: asyncpg.Record, progress: job_store.PageProgress, state: job_store.ReportState
    ) -> None:
        async with self.context.runtime.unit_of_work() as uow:
            await self._checkpoint(uow.conn, job, progress, state)
        metrics.rate_limit_waits(progress.counts.rate_limit_waits)

    async def _checkpoint(
        self,
        conn: asyncpg.Connection,
        job: asyncpg.Record,
        progress: job_store.PageProgress,
        state: job_store.ReportState,
    ) -> None:
        saved = await job_store.advance_job(
            conn, job["job_id"], self.context.owner, progress, state, self.context.lease_seconds
        )
        if saved is None:
            raise JobStopped  # rolls the step back: whoever runs the job now redoes it


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _first_cause(failed: BaseExceptionGroup[BaseException]) -> BaseException:
    """The window failure that matters: a stopped job first, then the first error."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [failed]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending = list(exc.exceptions) + pending
        else:
            leaves.append(exc)
    return next((e for e in leaves if isinstance(e, JobStopped)), leaves[0])


async def _orders_of(
    rows: AsyncIterator[dict[str, str]],
) -> AsyncIterator[list[dict[str, str]]]:
    """Item lines grouped by order: Amazon writes an order's lines one after another."""
    current: list[dict[str, str]] = []
    async for row in rows:
        if current and row.get("amazon-order-id") != current[0].get("amazon-order-id"):
            yield current
            current = []
        current.append(row)
    if current:
        yield current
