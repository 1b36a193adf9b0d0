"""Polling tenants' folders: the schedule, the leases shared by every instance, poll-now.

Each instance runs one :class:`Scheduler`. Every tick it leases due tenants in
PostgreSQL (``PollSchedule.claim_due``: ``FOR UPDATE SKIP LOCKED`` plus an expiry), so
no tenant is polled by two instances at once, and polls them concurrently (up to its
``slots``: ``POLL_CONCURRENCY``; the shops' scheduler, ``SHOP_POLL_CONCURRENCY``). A lease
is renewed while its poll runs and released when it ends; a dead instance's leases expire
after ``POLL_LEASE_SECONDS`` (less than the interval), and another instance takes its
tenants over. A failing tenant (IMAP down or slow) records its error and is retried with
back-off; the others go on.

Where the timings say so (marketplace shops, ``PollTimings.backoff_slots``), a failing
party cannot take the slots from the others: each poll is cut at its deadline, a poll
running past ``slow_after`` stops counting against the slots (the next due one starts),
and those in back-off are claimed apart, into ``backoff_slots`` of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid

from keybuzz_shared import errors
from keybuzz_shared.background import BackgroundLoop, keep_lease
from keybuzz_shared.redaction import remote_excerpt, secret_scope

from keybuzz_poller.polling.domain import (
    MAX_RECORDED_ERROR,
    PollDeadlineExceeded,
    PollResult,
    PollTimings,
    failure_reason,
    poll_timings,
)
from keybuzz_poller.polling.ports import PollingPorts, PollPorts, PollSchedule
from keybuzz_poller.polling.quarantine import scan_quarantine
from keybuzz_poller.polling.tenant_poll import poll_tenant
from keybuzz_poller.polling.wakeups import DueListener
from keybuzz_poller.runtime import PollerRuntime

log = logging.getLogger(__name__)

POLL_NOW_WAIT_SECONDS = 10.0  # poll-now waits this long for a running poll to end
# Slow polls (past ``PollTimings.slow_after``) that may run beside the slots' prompt
# ones, per slot: room for a marketplace's shops going bad together (each slow until its
# deadline), not for an overloaded instance to pile up polls it cannot finish.
SLOW_POLLS_PER_SLOT = 4
# A poll in back-off runs this many times its deadline: one cut at the same point again and
# again (a first page too big to store within the deadline on a loaded database, a slow
# marketplace) would never get its page in. It runs in the back-off slots, apart from the
# healthy polls, so the longer wait costs no one else.
BACKOFF_DEADLINE_FACTOR = 4


class TenantNotPollable(Exception):
    """Unknown tenant, archived, or without an enabled inbound address."""


class PollBusy(Exception):
    """Another poll of this tenant is running and did not end in time."""


def instance_name() -> str:
    """Who holds a lease, for an operator reading poller_poll_status."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PollSkipped(Exception):
    """``poll_one`` polled nothing, and nothing failed: the key is due again an interval
    on, with no poll, success or failure recorded (a shop of a marketplace not served now)."""


class PollPutOff(PollSkipped):
    """``poll_one`` polled nothing because its party allows no call for ``seconds`` more
    (a shop's marketplace frequency, ``poller/shops/pacing.py``): due again then, no poll recorded."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no call allowed for {seconds:.1f} s")
        self.seconds = seconds


class LeasedPolls:
    """The claiming loop on one schedule: leases due keys, polls each (``poll_one``), records
    success or failure with back-off. One per schedule and process."""

    def __init__(
        self, runtime: PollerRuntime, schedule: PollSchedule, timings: PollTimings | None = None
    ) -> None:
        self.runtime = runtime
        self.schedule = schedule
        self.slots = runtime.settings.poll_concurrency  # polls at once, but slow ones
        self.owner = instance_name()
        self.running: dict[str, asyncio.Task[PollResult | None]] = {}
        # When each running poll started (loop time), and whether it is of a key in back-off.
        self.started: dict[str, tuple[float, bool]] = {}
        self.wake = asyncio.Event()
        self.timings = timings or poll_timings(runtime.settings)
        self.interval, self.lease, self.tick = (
            self.timings.interval,
            self.timings.lease,
            self.timings.tick,
        )
        self.loops: tuple[BackgroundLoop, ...] = (BackgroundLoop(self._loop, "poller-scheduler"),)
        self._next_backoff_claim = 0.0  # loop time before which no key in back-off is claimed

    async def poll_one(self, tenant_id: str) -> PollResult:
        """One poll of what the lease is for."""
        raise NotImplementedError

    async def ready(self, tenant_id: str) -> None:
        """Returns when the leased poll of ``tenant_id`` may begin, before its deadline runs
        (PollPutOff: not within the lease's time)."""

    def interval_of(self, tenant_id: str) -> float:
        """How long after a poll of ``tenant_id`` (a lease's key) the next one is due."""
        return self.interval

    async def next_interval(self, tenant_id: str) -> float:
        """How long after the poll of ``tenant_id`` that just succeeded the next one is due."""
        return self.interval_of(tenant_id)

    async def failed_interval(self, tenant_id: str) -> float:
        """The least time after a failed poll of ``tenant_id`` before it is retried (its
        back-off may be longer): none here."""
        return 0.0

    async def succeeded(self, tenant_id: str, fetched: int, interval: float) -> None:
        """The poll's end recorded (``PollSchedule.poll_succeeded``)."""
        await self.schedule.poll_succeeded(tenant_id, self.owner, fetched, interval)

    async def failed(self, tenant_id: str, reason: str, at_least: float) -> None:
        """The failed poll's end recorded (``PollSchedule.poll_failed``)."""
        failure = self.timings.failure(reason, at_least)
        await self.schedule.poll_failed(tenant_id, self.owner, failure)

    def start(self) -> None:
        if not self.runtime.settings.poll_enabled:
            return  # poll-now still works: it takes the tenant's lease like any poll
        for loop in self.loops:
            loop.start()

    async def stop(self) -> None:
        for loop in self.loops:
            await loop.aclose()
        if self.running:  # a poll cut short commits nothing: its mail is read again
            await asyncio.wait(self.running.values(), timeout=5)
        for poll in self.running.values():
            poll.cancel()
        with contextlib.suppress(Exception):
            await self.schedule.release_leases(self.owner)

    async def poll_now(self, tenant_id: str) -> PollResult:
        """Poll one tenant at once (HTTP, NATS): waits for a poll of it that is running."""
        schedule = self.schedule
        if not await schedule.is_pollable(tenant_id):
            raise TenantNotPollable(f"tenant {tenant_id} has no inbound address to poll")
        await schedule.ensure_scheduled(tenant_id, self.interval_of(tenant_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POLL_NOW_WAIT_SECONDS
        while True:
            claim = None
            if tenant_id not in self.running:  # its lease may lapse under a running poll
                claim = await schedule.claim_tenant(tenant_id, self.owner, self.lease)
            if claim is not None:
                break
            if loop.time() > deadline:
                raise PollBusy(f"a poll of tenant {tenant_id} is still running")
            await asyncio.sleep(0.1)
        task = self._start(tenant_id, in_backoff=claim.in_backoff, reraise=True)
        result = await asyncio.shield(task)
        assert result is not None  # reraise=True: a failure raised instead
        return result

    async def _loop(self) -> None:
        outage = False
        while not self.runtime.stopping:
            # Cleared before claiming: a poll that ends meanwhile still wakes the wait below.
            self.wake.clear()
            try:
                await self._claim_and_start()
                if outage:
                    log.info("poll scheduling resumed")
                outage = False
            except Exception as exc:  # the database is down: keep trying, say it once
                if not outage:
                    log.warning("poll scheduling failed", extra={"error": repr(exc)})
                outage = True
            # Jitter: instances ticking in lockstep would always hand a tenant to the same one.
            wait = min(self.tick * random.uniform(0.5, 1.5), self._until_a_slot_frees())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)

    async def _claim_and_start(self) -> None:
        backoff_slots = self.timings.backoff_slots
        prompt = self._prompt_polls()
        free = self.slots - prompt
        # Without slots of their own, keys in back-off are claimed with the others.
        lane = None if backoff_slots is None else False
        if free > 0:
            for key in await self.schedule.claim_due(
                self.owner, free, self.lease, self.interval, lane, self.running.keys()
            ):
                self._start(key, in_backoff=False)
        if backoff_slots is None:
            return
        # Slow polls stay out of both counts: each ends by its deadline.
        free = backoff_slots - sum(in_backoff for _, in_backoff in self.started.values())
        now = asyncio.get_running_loop().time()
        # Keys in back-off wait seconds to minutes: looked for once a tick, not at the end of
        # every poll (a claim that finds none is a statement all the same).
        if free > 0 and now >= self._next_backoff_claim:
            self._next_backoff_claim = now + self.tick
            for key in await self.schedule.claim_due(
                self.owner, free, self.lease, self.interval, True, self.running.keys()
            ):
                self._start(key, in_backoff=True)

    def _start(
        self, key: str, *, in_backoff: bool, reraise: bool = False
    ) -> asyncio.Task[PollResult | None]:
        self.started[key] = (asyncio.get_running_loop().time(), in_backoff)
        task = self.running[key] = asyncio.create_task(self.poll_leased(key, reraise))
        return task

    def _prompt_polls(self) -> int:
        """Polls counted against the slots: those not in back-off and not yet slow, and the
        slow ones beyond ``SLOW_POLLS_PER_SLOT`` × the slots (an instance too loaded to end
        its polls in time must not start ever more of them)."""
        now, slow = asyncio.get_running_loop().time(), self.timings.slow_after
        running = [started for started, in_backoff in self.started.values() if not in_backoff]
        if slow is None:
            return len(running)
        slowed = sum(now - started >= slow for started in running)
        allowed = SLOW_POLLS_PER_SLOT * self.slots
        return len(running) - slowed + max(0, slowed - allowed)

    def _until_a_slot_frees(self) -> float:
        """Seconds until the next running poll turns slow (and its slot can be claimed)."""
        slow = self.timings.slow_after
        if slow is None:
            return float("inf")
        now = asyncio.get_running_loop().time()
        turning = [
            started + slow - now
            for started, in_backoff in self.started.values()
            if not in_backoff and started + slow > now
        ]
        return min(turning, default=float("inf")) + 0.01

    async def poll_leased(self, tenant_id: str, reraise: bool = False) -> PollResult | None:
        """A scheduled poll's failure is recorded (and retried later); poll-now's is raised too."""
        try:
            return await self._poll_leased(tenant_id, reraise)
        finally:
            # A slot is free: claim the next due tenant now; waiting for the next tick
            # would cap an instance at its slots' polls a second (bench_poller).
            self.wake.set()

    async def _poll_leased(self, tenant_id: str, reraise: bool) -> PollResult | None:
        # Credentials the poll reads (a shop's key) are masked, in any form a remote may
        # echo them, in its log lines and in the error it records.
        with secret_scope():
            return await self._poll_leased_in_scope(tenant_id, reraise)

    async def _poll_leased_in_scope(self, tenant_id: str, reraise: bool) -> PollResult | None:
        started = asyncio.get_running_loop().time()
        started_at = time.time()  # wall clock, for the log: comparable across instances
        keeper = asyncio.create_task(self._keep_lease(tenant_id))
        try:
            await self.ready(tenant_id)
            result = await self._poll_within_deadline(tenant_id)
        except PollSkipped as skipped:
            interval = (
                skipped.seconds if isinstance(skipped, PollPutOff) else self.interval_of(tenant_id)
            )
            with contextlib.suppress(Exception):
                await self.schedule.poll_skipped(tenant_id, self.owner, interval)
            if reraise:
                raise
            return None
        except Exception as exc:
            await self._record_failure(tenant_id, exc)
            if reraise:
                raise
            return None
        finally:
            keeper.cancel()
            self.running.pop(tenant_id, None)
            self.started.pop(tenant_id, None)
        # The poll's span, taken before the lease is released: another instance may take the
        # tenant the moment it is, before this line's log record is written.
        seconds = round(asyncio.get_running_loop().time() - started, 3)
        await self.succeeded(tenant_id, result.fetched, await self.next_interval(tenant_id))
        # Every poll of every tenant at INFO would be most of the log: only those that stored mail.
        log.log(
            logging.INFO if result.stored else logging.DEBUG,
            "tenant polled",
            extra={
                "tenant_id": tenant_id,
                "instance": self.owner,
                "fetched": result.fetched,
                "stored": result.stored,
                "started_at": started_at,
                "seconds": seconds,
            },
        )
        return result

    async def _poll_within_deadline(self, key: str) -> PollResult:
        """``poll_one``, cut at the timings' deadline, longer in back-off (what it committed
        so far stays)."""
        deadline = self.timings.deadline
        if deadline is None:
            return await self.poll_one(key)
        if self.started.get(key, (0.0, False))[1]:
            deadline *= BACKOFF_DEADLINE_FACTOR
        timeout = asyncio.timeout(deadline)
        try:
            async with timeout:
                return await self.poll_one(key)
        except TimeoutError:
            if not timeout.expired():
                raise
            raise PollDeadlineExceeded(f"poll cut at its deadline ({deadline:g} s)") from None

    async def _keep_lease(self, tenant_id: str) -> None:
        """Renew this poll's lease while it runs (``keep_lease``); a failed renewal is
        ignored: with the database down the poll fails too.

        Each poll keeps its own lease, not the scheduler's loop: that loop also waits on
        claims, and a lease as short as the interval would lapse behind it, letting another
        instance poll the same tenant at the same time (tests/test_nats_cluster.py).
        """
        await keep_lease(
            self.lease, lambda: self.schedule.renew_leases(self.owner, [tenant_id], self.lease)
        )

    async def _record_failure(self, tenant_id: str, exc: Exception) -> None:
        reason = remote_excerpt(failure_reason(exc), MAX_RECORDED_ERROR)
        log.warning(
            "tenant poll failed",
            extra={"tenant_id": tenant_id, "instance": self.owner, "error": reason},
            exc_info=not isinstance(exc, errors.DependencyUnavailable),
        )
        with contextlib.suppress(Exception):
            await self.failed(tenant_id, reason, await self.failed_interval(tenant_id))


class Scheduler(LeasedPolls):
    """One per process: the tenants' folders. The MX's deliveries (any instance's) wake its
    loop, so a tenant with new mail is claimed at once; once an interval it also counts the
    mail of folders nobody told us about."""

    def __init__(self, runtime: PollerRuntime, polling: PollingPorts, polls: PollPorts) -> None:
        super().__init__(runtime, polling.schedule)
        self.quarantine = polling.quarantine
        self.polls = polls
        self.loops = (
            DueListener(runtime.settings.database_url, self.wake),
            *self.loops,
            BackgroundLoop(self._quarantine_loop, "quarantine"),
        )

    async def poll_one(self, tenant_id: str) -> PollResult:
        return await poll_tenant(self.polls, tenant_id)

    async def _quarantine_loop(self) -> None:
        """Once an interval: count mail in folders of tenants nobody told us about."""
        while not self.runtime.stopping:
            with contextlib.suppress(Exception):
                await scan_quarantine(self.polls.reading.mailbox, self.quarantine)
            await asyncio.sleep(self.interval)


async def start_polling(runtime: PollerRuntime, polling: PollingPorts, polls: PollPorts) -> None:
    """``on_startup``: this instance takes its share of the due tenants from now on."""
    scheduler = Scheduler(runtime, polling, polls)
    runtime.provide(scheduler)
    scheduler.start()


async def stop_polling(runtime: PollerRuntime) -> None:
    scheduler = runtime.components.pop(Scheduler, None)
    if isinstance(scheduler, Scheduler):
        await scheduler.stop()


async def poll_due_once(
    runtime: PollerRuntime, polling: PollingPorts, polls: PollPorts
) -> list[PollResult]:
    """``--once`` (a CronJob): poll every tenant due now once, then return.

    Tenants leased by a running instance are left to it; a tenant that fails is
    recorded and retried by the next run after its back-off.
    """
    return await poll_all_due(Scheduler(runtime, polling, polls))


async def poll_all_due(scheduler: LeasedPolls) -> list[PollResult]:
    """Claims and polls what ``scheduler`` schedules, due now, until nothing due is left."""
    results: list[PollResult] = []
    concurrency = scheduler.slots
    while claimed := await scheduler.schedule.claim_due(
        scheduler.owner, concurrency, scheduler.lease, scheduler.interval
    ):
        polled = await asyncio.gather(*(scheduler.poll_leased(t) for t in claimed))
        results.extend(r for r in polled if r is not None)
    return results
