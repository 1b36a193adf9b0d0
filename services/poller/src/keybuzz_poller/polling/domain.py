"""Polling's pure decisions and values: a scheduler's timings, what a failed poll records,
what the use cases return (a poll's counts, a tenant's poll status, a quarantined folder;
``schemas.py`` gives them their HTTP shape)."""

from __future__ import annotations

from datetime import datetime
from functools import cache

import msgspec
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.errors import DependencyUnavailable

from keybuzz_poller.settings import PollerSettings

MAX_RECORDED_ERROR = 500  # characters of a failure kept in poller_poll_status


class PollTimings(msgspec.Struct, frozen=True, kw_only=True):
    interval: float  # every tenant polled at least once per interval
    lease: float  # a dead instance's tenants are taken over after this
    tick: float  # how often the scheduler claims when nothing wakes it
    retry_base: float  # a failing tenant's first retry
    retry_cap: float  # and its longest wait
    # Set for polls that a failing party must not let hold the others up (marketplace
    # shops): a poll is cut after ``deadline``; one running longer than ``slow_after`` gives
    # its slot back; those in back-off run in ``backoff_slots`` of their own.
    deadline: float | None = None
    slow_after: float | None = None
    backoff_slots: int | None = None

    def failure(self, error: str, at_least: float = 0.0) -> PollFailure:
        """A failed poll's end under these timings' back-off."""
        return PollFailure(error, retry_delays(self.retry_base, self.retry_cap), at_least)


class PollClaim(msgspec.Struct, frozen=True):
    """A poll-now's lease: whether the tenant's last poll failed (its poll is then given
    the back-off's longer deadline, as a scheduled one in back-off is)."""

    in_backoff: bool


class PollFailure(msgspec.Struct, frozen=True):
    """A failed poll's end: why, the back-off's wait after each consecutive failure
    (``retry_delays``: the last for every later one) and the soonest next try (what the
    failed poll spent puts its next off)."""

    error: str
    delays: tuple[float, ...]
    at_least: float = 0.0

    def delay(self, failures_before: int) -> float:
        """The wait after this failure, ``failures_before`` failures in a row before it."""
        return max(self.at_least, self.delays[min(failures_before, len(self.delays) - 1)])


@cache
def retry_delays(base: float, cap: float) -> tuple[float, ...]:
    """``backoff_delay`` of the 1st … nth consecutive failure, up to the first that reaches
    ``cap`` (every later failure waits ``cap`` too)."""
    delays = [backoff_delay(1, base=base, cap=cap)]
    while delays[-1] < cap and len(delays) < 64:
        delays.append(backoff_delay(len(delays) + 1, base=base, cap=cap))
    return tuple(delays)


def poll_timings(settings: PollerSettings, interval_seconds: float | None = None) -> PollTimings:
    """Tenants' folders at ``POLL_INTERVAL_SECONDS``; another kind at ``interval_seconds``."""
    interval = float(interval_seconds or settings.poll_interval_seconds)
    return PollTimings(
        interval=interval,
        # Takeover of a dead instance's tenants must happen within one interval.
        lease=min(float(settings.poll_lease_seconds), interval),
        tick=min(1.0, interval / 4),
        retry_base=settings.poll_retry_base_seconds,
        # A failing tenant is never retried less often than the others are polled.
        retry_cap=max(interval, settings.poll_retry_max_seconds),
    )


def shop_poll_timings(settings: PollerSettings, interval_seconds: float) -> PollTimings:
    """Shops' polls: ``poll_timings`` at their interval, with the shops' deadline (never
    longer than the interval), slow threshold and back-off slots."""
    timings = poll_timings(settings, interval_seconds)
    return msgspec.structs.replace(
        timings,
        deadline=min(settings.shop_poll_deadline_seconds, timings.interval),
        slow_after=settings.shop_poll_slow_seconds,
        backoff_slots=settings.shop_poll_backoff_concurrency,
    )


class PollDeadlineExceeded(DependencyUnavailable):
    """A poll ran past its deadline and was cut: retried with back-off like an outage."""


def failure_reason(exc: Exception) -> str:
    """What a failed poll says of itself: an outage's own message, else only the exception's
    type, never its text (it may quote a mail's content)."""
    return str(exc) if isinstance(exc, DependencyUnavailable) else type(exc).__name__


class PollResult(msgspec.Struct, kw_only=True):
    tenant_id: str
    fetched: int
    stored: int
    duplicates: int
    unparsed: int


class PollStatus(msgspec.Struct, kw_only=True):
    tenant_id: str
    scheduled: bool  # False: no enabled inbound address has been seen for the tenant
    polling: bool = False  # leased, and the lease has not expired
    next_poll_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    messages_fetched: int = 0
    lag_seconds: float | None = None  # since the last successful poll


class QuarantinedFolder(msgspec.Struct, kw_only=True):
    folder: str
    messages: int
    since: datetime  # when the folder was first seen
