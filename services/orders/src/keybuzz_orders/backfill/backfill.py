"""Backfill jobs: a tenant's last N days of orders, page by page, resumable.

``searchOrders`` (items inline) from the window's start without ``createdBefore``:
The source closes the window and says where, the cursor we keep (never our clock). Each
page commits in one unit of work with the job's checkpoint (and, on the last page, the
``order.backfill.completed`` event), so a stopped job resumes from its last page and a
page read twice changes nothing. One running job per tenant and marketplace; a job is
leased to the process running it, and another instance takes it over once the lease lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from enum import Enum
from typing import Any

from keybuzz_shared.background import BackgroundLoop, keep_lease
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.connectors.names import UNLABELLED_EVENT_MARKETPLACE
from keybuzz_shared.connectors.registry import REREAD_SECONDS, served
from keybuzz_shared.errors import is_outage
from keybuzz_shared.events import OrderBackfillCompleted, OrderBackfillFailed
from keybuzz_shared.redaction import remote_excerpt, secret_scope

from keybuzz_orders.backfill import metrics
from keybuzz_orders.backfill.jobs import (
    REPORT,
    SEARCH,
    JobCounts,
    JobStep,
    JobStopped,
    JobView,
    PageProgress,
    ReportState,
    next_step,
    search_window,
)
from keybuzz_orders.backfill.report_strategy import ReportSteps, StrategyPlan, plan_strategy
from keybuzz_orders.backfill.starting import JobRequest, StartedJob, start_job
from keybuzz_orders.order_source import (
    AccessDenied,
    NotConnected,
    NotFound,
    OrderListing,
    QueryRefused,
    SourceError,
    SourcePage,
    source_for,
)
from keybuzz_orders.ports import BackfillPorts, BackfillUnit
from keybuzz_orders.settings import OrdersSettings

log = logging.getLogger(__name__)

OUTAGE_BACKOFF_MAX = 30.0
# How often a paused job asks whether its marketplace is served again: the registry's
# reading is not fresher than this.
SERVED_CHECK_SECONDS = REREAD_SECONDS


class Backfills:
    """Starts, runs, resumes and stops backfill jobs in this process."""

    def __init__(self, ports: BackfillPorts) -> None:
        self.ports = ports
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeper = _Sweeper(self)
        self.report_steps = ReportSteps(ports, self.owner)

    @property
    def settings(self) -> OrdersSettings:
        return self.ports.settings

    @property
    def lease_seconds(self) -> float:
        return self.ports.lease_seconds

    # --- starting -------------------------------------------------------------------------

    async def start(
        self,
        tenant_id: str,
        days: int,
        trigger: str,
        source_event_id: str | None = None,
        marketplace: str = UNLABELLED_EVENT_MARKETPLACE,
    ) -> StartedJob:
        """A new job, or the tenant's running one. Credentials are checked now, not later.

        Raises ``CredentialsMissing`` at once, not in the job.
        """
        request = JobRequest(tenant_id, days, trigger, source_event_id, marketplace)
        started = await start_job(self.ports, request, self.owner)
        if started.created:
            log.info(
                "backfill started",
                extra={
                    "tenant_id": tenant_id,
                    "days": days,
                    "job_id": started.job.job_id,
                    "trigger": trigger,
                },
            )
            self._spawn(started.job.job_id)
        return started

    def _spawn(self, job_id: str) -> None:
        if job_id in self._tasks:
            return
        task = asyncio.create_task(self._run_counted(job_id), name=f"backfill-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    # --- lifecycle ------------------------------------------------------------------------

    async def resume(self) -> None:
        """At start-up and then periodically: run the jobs nobody runs."""
        self._sweeper.start()

    async def sweep(self) -> None:
        """Renew our jobs' leases and take over the jobs nobody holds."""
        jobs = self.ports.jobs
        await jobs.renew_leases(self.owner, self.lease_seconds)
        for job_id in await jobs.claim_orphans(self.owner, self.lease_seconds):
            log.info("backfill resumed", extra={"job_id": job_id})
            self._spawn(job_id)

    async def aclose(self) -> None:
        """Stop running; jobs stay RUNNING with their checkpoint and are released."""
        await self._sweeper.aclose()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.ports.jobs.release_jobs(self.owner)

    async def stop_tenant(
        self, tenant_id: str, reason: str, marketplace: str | None = None
    ) -> list[str]:
        """The connection went away: cancel the tenant's jobs (on ``marketplace`` only,
        when given), say so, stop our tasks."""
        stopped: list[str] = []
        for job_id in await self.ports.jobs.running_jobs_of(tenant_id):
            if marketplace is not None:
                held = await self.ports.jobs.get_job(job_id)
                if held is None or held.marketplace != marketplace:
                    continue
            async with self.ports.units() as unit:
                job = await unit.store.end_job(job_id, "CANCELLED", reason, owner=None)
                if job is not None:
                    unit.emit(_failed_event(job, reason))
                    stopped.append(job_id)
            if job is not None:
                metrics.job_ended("cancelled", job.strategy)
            if task := self._tasks.get(job_id):
                task.cancel()
        if stopped:
            log.info("backfill cancelled", extra={"tenant_id": tenant_id, "reason": reason})
        return stopped

    # --- running --------------------------------------------------------------------------

    async def _run_counted(self, job_id: str) -> None:
        metrics.job_started()
        try:
            # The shop's credentials, read for the job, are masked in any form in its logs
            # and in the errors it records.
            with secret_scope():
                await self.run(job_id)
        finally:
            metrics.job_stopped()

    async def run(self, job_id: str) -> None:
        """The job's steps until it ends, is stopped, or is not ours any more."""
        waits = 0  # consecutive outages of this job
        while True:
            job = await self.ports.jobs.get_job(job_id)
            if job is None or job.status != "RUNNING" or job.owner != self.owner:
                return
            if not served(job.marketplace):
                await self._paused(job)
                continue
            try:
                if await self._page(job):
                    return
                waits = 0
            except JobStopped:
                return
            except Exception as exc:
                decision = decide(exc, resuming=job.pagination_token is not None)
                if decision is Decision.WAIT:
                    waits += 1
                    await self._wait_out(job_id, exc, waits)
                elif decision is Decision.RESTART_WINDOW:
                    log.warning(
                        "pagination token refused; reading the window again",
                        extra={"job_id": job_id},
                    )
                    await self.ports.jobs.restart_window(job_id, self.owner)
                else:
                    if not isinstance(exc, SourceError):
                        log.exception("backfill failed", extra={"job_id": job_id})
                    await self._fail(job, _reason(exc))
                    if isinstance(exc, NotConnected):
                        await exc.report()
                    return

    async def _paused(self, job: JobView) -> None:
        """Its marketplace is not served now (removed from its family's catalogue): the job
        stays RUNNING with its checkpoint and its lease, fails nothing, and goes on from
        that checkpoint once the registry serves the marketplace again."""
        where = {"job_id": job.job_id, "marketplace": job.marketplace}
        log.warning("backfill paused: its marketplace is not served", extra=where)
        while True:  # the registry says when it is re-read, not when it changes
            await asyncio.sleep(SERVED_CHECK_SECONDS)
            if served(job.marketplace):
                break
        log.info("backfill resumed: its marketplace is served again", extra=where)

    async def _wait_out(self, job_id: str, exc: Exception, attempt: int) -> None:
        """The source, Vault or the database is down: keep the job, try again later."""
        log.warning(
            "backfill waiting for a dependency",
            extra={"job_id": job_id, "error": remote_excerpt(str(exc), 200)},
        )
        with contextlib.suppress(Exception):
            await self.ports.jobs.note_error(job_id, self.owner, remote_excerpt(str(exc), 500), 0)
        await asyncio.sleep(backoff_delay(attempt, base=1.0, cap=OUTAGE_BACKOFF_MAX))

    async def _page(self, job: JobView) -> bool:
        """Read and store one page (or one report step); True when the job is complete."""
        step = next_step(job)
        if step is JobStep.REPORTS:
            await self.report_steps.step(job)
            return False
        if step is JobStep.ORDERS_V0_PAGE:
            return await self._listing_page(job, self.ports.fallback, "orders_v0")
        listing = source_for(self.ports.source, self.ports.sources, job.marketplace)
        return await self._listing_page(job, listing, "search")

    async def _listing_page(self, job: JobView, listing: OrderListing, source: str) -> bool:
        window = search_window(job, self.settings.backfill_page_size)
        try:
            page = await listing.orders_in_window(job.tenant_id, window)
        except (AccessDenied, NotFound) as exc:
            if listing is not self.ports.source or job.strategy not in (None, SEARCH):
                raise  # a report job's tail: its reports already needed access
            await self._switch_to_v0(job, exc)
            return False
        for order in page.unreadable:
            log.warning(
                "order unreadable; counted as an error",
                extra={
                    "tenant_id": job.tenant_id,
                    "order_id": order.order_id,
                    "reason": order.reason,
                },
            )
        plan = None
        if job.strategy is None and listing is not self.ports.source:
            plan = StrategyPlan(SEARCH, f"{job.marketplace}: its listing, in date windows")
        elif job.strategy is None:  # the first page decides how the job goes on
            plan = plan_strategy(self.settings, job.created_after, page, page.orders)
        async with self.ports.units() as unit:
            counts = await _store_page(unit, job, page)
            progress = PageProgress.of_rows(
                page.orders, counts, next_token=page.next_token, created_before=page.created_before
            )
            if plan is not None and plan.strategy == REPORT:
                state = ReportState(
                    windows=plan.windows,
                    phase="REPORTS",
                    tail_after=plan.tail_after,
                    strategy_reason=plan.reason,
                )
                saved = await unit.store.advance_job(
                    job.job_id, self.owner, progress, state, self.lease_seconds
                )
            else:
                strategy = (plan.strategy, plan.reason) if plan else None
                saved = await unit.store.checkpoint_job(
                    job.job_id, self.owner, progress, self.lease_seconds, strategy
                )
            saved = await _hand_over_if_complete(unit, job, saved)
        metrics.page_stored(source, counts)
        if plan is not None:
            log.info(
                "backfill strategy",
                extra={"job_id": job.job_id, "strategy": plan.strategy, "reason": plan.reason},
            )
        return self._page_stored(job, saved)

    def _page_stored(self, job: JobView, saved: JobView) -> bool:
        """After a page's commit: True (and the job's end counted) when it was the last."""
        if saved.status == "COMPLETED":
            metrics.job_ended("completed", saved.strategy)
            if saved.created_before is not None:
                metrics.sync_cursor(job.tenant_id, saved.created_before)
            log.info(
                "backfill completed",
                extra={
                    "tenant_id": job.tenant_id,
                    "job_id": job.job_id,
                    "orders": saved.counts.orders,
                    "errors": saved.counts.errors,
                },
            )
            return True
        return False

    # --- Orders v0, the fallback ----------------------------------------------------------

    async def _switch_to_v0(self, job: JobView, refusal: SourceError) -> None:
        reason = (
            f"searchOrders refused ({refusal.code}): Orders v0 getOrders + getOrderItems per order"
        )
        log.warning(
            "backfill falls back to Orders v0", extra={"job_id": job.job_id, "reason": reason}
        )
        await self.ports.jobs.switch_to_orders_v0(job.job_id, self.owner, reason)

    async def _fail(self, job: JobView, reason: str) -> None:
        reason = remote_excerpt(reason, 500)
        async with self.ports.units() as unit:
            ended = await unit.store.end_job(job.job_id, "FAILED", reason, self.owner)
            if ended is not None:
                unit.emit(_failed_event(ended, reason))
        if ended is not None:
            metrics.job_ended("failed", ended.strategy)
        log.warning(
            "backfill failed",
            extra={"tenant_id": job.tenant_id, "job_id": job.job_id, "reason": reason},
        )


async def _store_page(unit: BackfillUnit, job: JobView, page: SourcePage) -> JobCounts:
    """A page's orders (partial rows never erase a full read), and what it counted."""
    counts = await unit.store.upsert_orders(
        job.tenant_id, job.marketplace, page.orders, partial=page.partial
    )
    return counts.but(pages=1, errors=len(page.unreadable), rate_limit_waits=page.rate_limit_waits)


class _Sweeper(BackgroundLoop):
    """Renews the process's leases four times per lease (a slow round never lets a live
    job's lease lapse) and resumes orphaned jobs, from start-up on."""

    name = "backfill-sweeper"

    def __init__(self, backfills: Backfills) -> None:
        self.backfills = backfills

    async def run(self) -> None:
        await keep_lease(
            self.backfills.lease_seconds, self.backfills.sweep, at_once=True, on_error=_sweep_failed
        )


def _sweep_failed(exc: Exception) -> None:
    # The database is down: the next round tries again.
    log.warning("backfill sweep failed", extra={"error": type(exc).__name__})


class Decision(Enum):
    WAIT = "wait"  # a dependency is down: keep the job, try the same page later
    RESTART_WINDOW = "restart"  # the source refused our saved page token
    FAIL = "fail"


def decide(exc: BaseException, *, resuming: bool) -> Decision:
    """What a failed page means for its job."""
    if is_outage(exc):  # the source, Vault or PostgreSQL down (SourceUnavailable included)
        return Decision.WAIT
    if isinstance(exc, QueryRefused) and resuming:
        return Decision.RESTART_WINDOW  # tokens expire (24 h); pages are idempotent
    return Decision.FAIL  # revoked/missing credentials, access denied, a bug: say why


async def _hand_over_if_complete(
    unit: BackfillUnit, job: JobView, saved: JobView | None
) -> JobView:
    """Inside the page's unit of work: the completion event and the sync's cursor."""
    if saved is None:
        raise JobStopped  # rolls the page back: whoever runs the job now redoes it
    if saved.status == "COMPLETED":
        unit.emit(_completed_event(saved))
        if saved.created_before is not None:  # hand over to the incremental sync
            await unit.store.start_sync(
                job.tenant_id, job.marketplace, job.marketplace_id, saved.created_before
            )
    return saved


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SourceError):
        return str(exc)  # written to name what is wrong and never a secret
    return f"internal error: {type(exc).__name__}"


def _event_fields(job: JobView) -> dict[str, Any]:
    return {
        "tenant_id": job.tenant_id,
        "job_id": job.job_id,
        "marketplace": job.marketplace,
        "days": job.days,
        "counts": job.counts.published(),
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _completed_event(job: JobView) -> OrderBackfillCompleted:
    return OrderBackfillCompleted(**_event_fields(job))


def _failed_event(job: JobView, reason: str) -> OrderBackfillFailed:
    return OrderBackfillFailed(**_event_fields(job), reason=reason)
