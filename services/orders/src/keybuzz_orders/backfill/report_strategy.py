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
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from keybuzz_shared.connectors.orders import parse_window_time, window_time

from keybuzz_orders.backfill import metrics
from keybuzz_orders.backfill.jobs import (
    REPORT,
    SEARCH,
    JobCounts,
    JobStopped,
    JobView,
    PageProgress,
    ReportState,
    ReportWindow,
    WindowState,
)
from keybuzz_orders.domain import OrderRow
from keybuzz_orders.order_source import (
    NotFound,
    OrderWindow,
    ReportStage,
    SourcePage,
    UnreadableOrder,
)
from keybuzz_orders.ports import BackfillPorts, BackfillUnit
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


def plan_strategy(
    settings: OrdersSettings, created_after: str, page: SourcePage, rows: list[OrderRow]
) -> StrategyPlan:
    """SEARCH or REPORT, from the job's first page (see the module doc)."""
    if page.next_token is None:
        return StrategyPlan(SEARCH, f"the window holds {len(rows)} orders: one page")
    start = parse_window_time(created_after)
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
        tail_after=window_time(report_end - TAIL_OVERLAP),
    )


def report_windows(start: datetime, end: datetime, days: int) -> list[ReportWindow]:
    windows: list[ReportWindow] = []
    while start < end:
        stop = min(start + timedelta(days=days), end)
        windows.append(ReportWindow(start=window_time(start), end=window_time(stop)))
        start = stop
    return windows


def _no_progress(waits: int = 0) -> PageProgress:
    return PageProgress(JobCounts(rate_limit_waits=waits))


class ReportSteps:
    """One step of a REPORT job per call: request, poll, import a batch, or fall back."""

    def __init__(self, ports: BackfillPorts, owner: str) -> None:
        self.ports = ports
        self.owner = owner  # this process's name on the jobs it leases

    @property
    def settings(self) -> OrdersSettings:
        return self.ports.settings

    async def step(self, job: JobView) -> None:
        windows = job.report_windows or []
        if missing := [w for w in windows if w.state is WindowState.PENDING and not w.report_id]:
            await self._request(job, windows, missing)
            return
        if all(w.state is WindowState.DONE for w in windows):
            await self._save(job, _no_progress(), ReportState(windows=windows, phase="TAIL"))
            return
        # Every open window on its own: one is imported while the source still prepares
        # the others, and the imports overlap each other's waits (download, database).
        try:
            async with asyncio.TaskGroup() as group:
                for index, window in enumerate(windows):
                    if window.state is not WindowState.DONE:
                        group.create_task(self._finish_window(job, windows, index))
        except BaseExceptionGroup as failed:
            raise _first_cause(failed) from None  # what the run decides on (wait, stop, fail)

    async def _finish_window(self, job: JobView, windows: list[ReportWindow], index: int) -> None:
        """Poll the window's report until it is imported, or read the window page by page."""
        window = windows[index]
        while window.state is WindowState.PENDING and window.report_id:
            if not await self._poll(job, windows, index):
                await asyncio.sleep(self.settings.backfill_report_poll_seconds)
        while window.state is WindowState.FALLBACK:
            await self._fallback_page(job, windows, index)

    async def _request(
        self, job: JobView, windows: list[ReportWindow], missing: list[ReportWindow]
    ) -> None:
        """All windows' reports at once: the source prepares them side by side."""
        waits = 0
        for window in missing:
            report_id, cost = await self.ports.reports.request(
                job.tenant_id,
                job.marketplace_id,
                parse_window_time(window.start),
                parse_window_time(window.end),
            )
            window.report_id, waits = report_id, waits + cost
            # Our clock, only for the deadline of a report stuck in processing.
            window.requested_at = self._now()
        # A crash before this commit requests them again: reports cost no data.
        await self._save(job, _no_progress(waits), ReportState(windows=windows))

    async def _poll(self, job: JobView, windows: list[ReportWindow], index: int) -> bool:
        """True when the window moved on (imported, fell back, or requested again)."""
        window = windows[index]
        try:
            assert window.report_id is not None  # polled only once requested
            status = await self.ports.reports.status(job.tenant_id, window.report_id)
        except NotFound:  # gone (the source keeps reports a while only): ask again
            window.report_id, window.imported = None, 0
            window.note = "report not found: requested again"
            await self._save(job, _no_progress(), ReportState(window=(index, window)))
            return True
        metrics.rate_limit_waits(status.rate_limit_waits)
        if status.stage is ReportStage.DONE and status.document_id:
            await self._import(job, windows, index, status.document_id)
            return True
        if status.stage is ReportStage.FAILED:
            log.warning(
                "order report ended %s; reading its window with searchOrders",
                status.detail,
                extra={"job_id": job.job_id, "window": window.start},
            )
            window.state, window.note = WindowState.FALLBACK, f"report {status.detail}"
            await self._save(job, _no_progress(), ReportState(window=(index, window)))
            return True
        deadline = self.settings.backfill_report_deadline_seconds
        # A window without a request time starts counting when first polled.
        if window.requested_at is msgspec.UNSET:
            window.requested_at = self._now()
        if self._now() - window.requested_at > deadline:
            log.warning(
                "order report still %s after %g s; reading its window with searchOrders",
                status.detail,
                deadline,
                extra={"job_id": job.job_id, "window": window.start},
            )
            note = f"report still {status.detail} after {deadline:g} s"
            window.state, window.note = WindowState.FALLBACK, note
            await self._save(job, _no_progress(), ReportState(window=(index, window)))
            return True
        return False

    async def _import(
        self, job: JobView, windows: list[ReportWindow], index: int, document_id: str
    ) -> None:
        """Stream the document; each batch commits with the window's count of stored orders."""
        window = windows[index]
        document = await self.ports.reports.orders(job.tenant_id, document_id, job.marketplace_id)
        waits = document.rate_limit_waits
        skip = window.imported  # stored before a crash: same report, same order
        batch: list[OrderRow | UnreadableOrder] = []
        async for order in document.orders:
            if skip:
                skip -= 1
                continue
            batch.append(order)
            if len(batch) >= BATCH_ORDERS:
                await self._store_batch(job, windows, index, batch, waits, last=False)
                batch, waits = [], 0
        await self._store_batch(job, windows, index, batch, waits, last=True)

    async def _store_batch(
        self,
        job: JobView,
        windows: list[ReportWindow],
        index: int,
        batch: list[OrderRow | UnreadableOrder],
        waits: int,
        *,
        last: bool,
    ) -> None:
        rows = [order for order in batch if isinstance(order, OrderRow)]
        for bad in batch:
            if isinstance(bad, UnreadableOrder):
                log.warning(
                    "report line unreadable; counted as an error",
                    extra={"job_id": job.job_id, "reason": bad.reason},
                )
        window = windows[index]
        window.imported += len(batch)
        if last:
            window.state = WindowState.DONE
        async with self.ports.units() as unit:
            counts = await unit.store.upsert_orders(
                job.tenant_id, job.marketplace, rows, partial=True
            )
            # Only the source's answer to the tail sets the job's cursor: report pages aren't.
            counts = counts.but(errors=len(batch) - len(rows), rate_limit_waits=waits)
            progress = PageProgress.of_rows(rows, counts)
            await self._checkpoint(unit, job, progress, ReportState(window=(index, window)))
        metrics.page_stored("report", counts)

    async def _fallback_page(self, job: JobView, windows: list[ReportWindow], index: int) -> None:
        """The window's report failed: the same window through the listing, page by page."""
        window = windows[index]
        query = OrderWindow(
            marketplace_id=job.marketplace_id,
            created_after=parse_window_time(window.start),
            created_before=parse_window_time(window.end),
            page_size=self.settings.backfill_page_size,
            page_token=window.token,
        )
        page = await self.ports.source.orders_in_window(job.tenant_id, query)
        window.token = page.next_token
        if page.next_token is None:
            window.state = WindowState.DONE
        async with self.ports.units() as unit:
            counts = await unit.store.upsert_orders(job.tenant_id, job.marketplace, page.orders)
            counts = counts.but(
                pages=1, errors=len(page.unreadable), rate_limit_waits=page.rate_limit_waits
            )
            progress = PageProgress.of_rows(page.orders, counts)
            await self._checkpoint(unit, job, progress, ReportState(window=(index, window)))
        metrics.page_stored("search", counts)

    async def _save(self, job: JobView, progress: PageProgress, state: ReportState) -> None:
        async with self.ports.units() as unit:
            await self._checkpoint(unit, job, progress, state)
        metrics.rate_limit_waits(progress.counts.rate_limit_waits)

    async def _checkpoint(
        self, unit: BackfillUnit, job: JobView, progress: PageProgress, state: ReportState
    ) -> None:
        saved = await unit.store.advance_job(
            job.job_id, self.owner, progress, state, self.ports.lease_seconds
        )
        if saved is None:
            raise JobStopped  # rolls the step back: whoever runs the job now redoes it

    def _now(self) -> float:
        return self.ports.clock().timestamp()


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
