"""What a backfill job is made of, shared by its two runners (``backfill``, ``report_strategy``).

- ``JobCounts``: the job's counters, the one type for what a page, a report batch,
  an upsert, a sync round or a whole job counted (and, renamed, the events' counts);
- ``ReportWindow``: one window of a REPORT job, as stored in ``report_windows`` (JSONB);
- ``window_start``, ``next_step``, ``search_query``: how a job is planned and resumed;
- ``job_progress``: how far a job is, and its ETA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from keybuzz_shared.connectors.orders import parse_window_time, window_time
from keybuzz_shared.events import BackfillCounts

from keybuzz_orders.domain import OrderRow
from keybuzz_orders.order_source import OrderWindow, feed_connector

MAX_DAYS = 730  # the order feed returns no order older than two years
# How far back a backfill goes, asked (schemas.py) or by default (BACKFILL_DAYS).
BackfillDays = Annotated[int, msgspec.Meta(ge=1, le=MAX_DAYS)]
SEARCH = "SEARCH"
REPORT = "REPORT"
ORDERS_V0 = "ORDERS_V0"  # the fallback strategy: Orders 2026-01-01 refused to us


class InvalidDays(ValueError):
    def __init__(self, days: int) -> None:
        keeps = f"{feed_connector().display_name} keeps two years"
        super().__init__(f"days must be between 1 and {MAX_DAYS} ({keeps}); got {days}")


def window_start(days: int, now: datetime) -> str:
    """A job's ``createdAfter``: the window's start as the source will see it. Our clock
    only says how far back to go; where the window ends is the source's answer."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidDays(days)
    return window_time(now - timedelta(days=days))


class JobStep(StrEnum):
    REPORTS = "reports"  # a step of a REPORT job's reports (request, poll, import)
    ORDERS_V0_PAGE = "orders_v0_page"  # a getOrders page and its orders' items
    SEARCH_PAGE = "search_page"  # a searchOrders page (a SEARCH job, or a REPORT job's tail)


def next_step(job: JobView) -> JobStep:
    """What a job does next, from its checkpoint alone (so a resumed job goes on the same)."""
    if job.strategy == REPORT and job.phase == "REPORTS":
        return JobStep.REPORTS
    if job.strategy == ORDERS_V0:
        return JobStep.ORDERS_V0_PAGE
    return JobStep.SEARCH_PAGE


def search_window(job: JobView, page_size: int) -> OrderWindow:
    """The job's next page: from the window's start (a REPORT job's tail: from
    ``tail_after``), with the checkpoint's token, so a resumed job reads the next page.
    No end: the source closes the window and says where."""
    created_after = job.tail_after if job.phase == "TAIL" and job.tail_after else job.created_after
    return OrderWindow(
        marketplace_id=job.marketplace_id,
        created_after=parse_window_time(created_after),
        page_size=page_size,
        page_token=job.pagination_token,
    )


class JobCounts(msgspec.Struct, kw_only=True, rename="camel"):
    """Counters of a job; a page's own are added to the job's row when it commits.

    Columns of ``order_backfill_jobs`` and fields of the HTTP job carry the same names.
    """

    pages: int = 0
    orders: int = 0  # orders read (stored or not); ``fetched`` in the events
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    items: int = 0
    errors: int = 0  # orders the source sent that we could not read
    rate_limit_waits: int = 0

    def __add__(self, other: JobCounts) -> JobCounts:
        return JobCounts(**{name: getattr(self, name) + getattr(other, name) for name in COUNTERS})

    def but(self, **changes: int) -> JobCounts:
        """The same counts with some replaced (what the caller knows and the store does not)."""
        return msgspec.structs.replace(self, **changes)

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> JobCounts:
        """A job's counts, from its row."""
        return cls(**{name: row[name] for name in COUNTERS})

    def published(self) -> BackfillCounts:
        """The counts as ``order.backfill.*`` events carry them (their contract's names)."""
        return BackfillCounts(
            fetched=self.orders,
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            cancelled=self.cancelled,
            errors=self.errors,
        )


COUNTERS: tuple[str, ...] = JobCounts.__struct_fields__


class WindowState(StrEnum):
    PENDING = "PENDING"  # its report is to be requested, or requested and processing
    FALLBACK = "FALLBACK"  # its report failed or passed its deadline: read by searchOrders
    DONE = "DONE"


class ReportWindow(msgspec.Struct, kw_only=True, rename="camel"):
    """One window of a REPORT job, stored as JSON in the job's ``report_windows``.

    The stored keys are these fields' camelCase names; ``requestedAt`` may be absent
    (a window not requested yet, or stored without it).
    """

    start: str  # ``window_time``, as sent to the source
    end: str
    report_id: str | None = None
    state: WindowState = WindowState.PENDING
    imported: int = 0  # orders of its document stored (a crash resumes after them)
    token: str | None = None  # the searchOrders token of a FALLBACK window
    note: str | None = None
    # Our clock (epoch seconds), only for the deadline of a report stuck in processing.
    requested_at: float | msgspec.UnsetType = msgspec.UNSET


def encode_windows(windows: list[ReportWindow] | ReportWindow) -> str:
    """JSON for the ``report_windows`` column (or one of its elements)."""
    return msgspec.json.encode(windows).decode()


def decode_windows(stored: str | None) -> list[ReportWindow] | None:
    return None if stored is None else msgspec.json.decode(stored, type=list[ReportWindow])


class JobStopped(Exception):
    """The job was cancelled or taken over meanwhile: our step is rolled back."""


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    """A backfill job as the reads and the start of a job return it."""

    job_id: str
    tenant_id: str
    marketplace: str
    marketplace_id: str
    status: str
    owner: str | None  # the process running it (None: released, or ended)
    pagination_token: str | None  # the checkpoint: the next page's token
    tail_after: str | None  # a REPORT job's tail starts here
    trigger: str
    days: int
    created_after: str  # the window's start, as sent to the source
    created_before: datetime | None  # the source's cursor: complete up to here
    newest_order_at: datetime | None
    last_error: str | None
    reason: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    strategy: str | None
    strategy_reason: str | None
    phase: str | None
    report_windows: list[ReportWindow] | None
    counts: JobCounts

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> JobView:
        fields = {name: row[name] for name in cls.__struct_fields__ if name != "counts"}
        fields["report_windows"] = decode_windows(row["report_windows"])
        return cls(**fields, counts=JobCounts.of_row(row))


def job_progress(job: JobView, now: datetime) -> tuple[float, float | None]:
    """How far through its window a job is (0..1), and the seconds left (None: unknown).

    Pages go oldest first: the newest order stored says how far the job got. ``now``
    only makes an estimate for a human, never a cursor.
    """
    if job.status == "COMPLETED":
        return 1.0, 0.0
    newest = job.newest_order_at
    if newest is None:
        return 0.0, None
    start = parse_window_time(job.created_after)
    span = (now - start).total_seconds()
    fraction = min(max((newest - start).total_seconds() / span, 0.0), 1.0) if span > 0 else 0.0
    if job.status != "RUNNING" or fraction <= 0:
        return fraction, None
    elapsed = (now - job.started_at).total_seconds()
    return fraction, elapsed * (1 - fraction) / fraction


@dataclass(frozen=True)
class PageProgress:
    """One step's checkpoint: its counts, added to the job's, and where the job stands."""

    counts: JobCounts
    next_token: str | None = None
    created_before: datetime | None = None  # the source's cursor, from its answer
    newest_order_at: datetime | None = None

    @classmethod
    def of_rows(
        cls,
        rows: Sequence[OrderRow],
        counts: JobCounts,
        *,
        next_token: str | None = None,
        created_before: datetime | None = None,
    ) -> PageProgress:
        """The step that stored ``rows`` and counted ``counts``."""
        newest = max((r.order_date for r in rows), default=None)
        return cls(counts, next_token, created_before, newest)


@dataclass(frozen=True)
class ReportState:
    """What a report-strategy job checkpoints besides its counts (None: unchanged)."""

    windows: list[ReportWindow] | None = None
    # One window's own checkpoint (its index, its state): windows imported side by side
    # each write only theirs, never another's uncommitted progress.
    window: tuple[int, ReportWindow] | None = None
    phase: str | None = None
    tail_after: str | None = None
    strategy_reason: str | None = None
