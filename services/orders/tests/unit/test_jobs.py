"""A job's pieces, pure: report windows as stored in the database, the one counters type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from keybuzz_orders.backfill.jobs import (
    JobCounts,
    JobView,
    ReportWindow,
    WindowState,
    decode_windows,
    encode_windows,
    job_progress,
)
from keybuzz_shared.events import BackfillCounts

# A window as the code before typed windows stored it (no requestedAt: never polled).
STORED = (
    '[{"start": "2026-08-24T00:00:00Z", "end": "2026-09-23T00:00:00Z", "reportId": "r-1",'
    ' "state": "FALLBACK", "imported": 12, "token": "tok+/=", "note": "report FATAL"}]'
)


def test_windows_stored_before_are_read_and_written_back_with_the_same_keys() -> None:
    [window] = decode_windows(STORED) or []
    assert window == ReportWindow(
        start="2026-08-24T00:00:00Z",
        end="2026-09-23T00:00:00Z",
        report_id="r-1",
        state=WindowState.FALLBACK,
        imported=12,
        token="tok+/=",
        note="report FATAL",
    )
    assert window.requested_at is msgspec.UNSET
    assert msgspec.json.decode(encode_windows([window])) == msgspec.json.decode(STORED)
    window.requested_at = 1.5
    assert msgspec.json.decode(encode_windows(window))["requestedAt"] == 1.5
    assert decode_windows(None) is None


def test_counts_add_up_and_publish_under_the_events_names() -> None:
    page = JobCounts(orders=3, created=2, unchanged=1, items=5).but(pages=1, errors=1)
    total = page + JobCounts(pages=1, orders=1, updated=1, cancelled=1, rate_limit_waits=2)
    assert total == JobCounts(
        pages=2,
        orders=4,
        created=2,
        updated=1,
        unchanged=1,
        cancelled=1,
        items=5,
        errors=1,
        rate_limit_waits=2,
    )
    row = {name: getattr(total, name) for name in total.__struct_fields__}
    assert JobCounts.of_row(row) == total
    assert total.published() == BackfillCounts(
        fetched=4, created=2, updated=1, unchanged=1, cancelled=1, errors=1
    )


def test_progress_is_the_newest_order_through_the_window() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    row = {
        **{name: 0 for name in JobCounts.__struct_fields__},
        "job_id": "j-1",
        "tenant_id": "t-1",
        "trigger": "http",
        "days": 10,
        "marketplace": "AMAZON",
        "marketplace_id": "A13V1IB3VIYZZH",
        "owner": "me",
        "pagination_token": None,
        "tail_after": None,
        "created_before": None,
        "last_error": None,
        "reason": None,
        "updated_at": now,
        "finished_at": None,
        "strategy": None,
        "strategy_reason": None,
        "phase": None,
        "report_windows": None,
        "status": "RUNNING",
        "created_after": "2026-11-12T00:00:00Z",  # 10 days before now
        "newest_order_at": now - timedelta(days=6),  # 4 days in: 40 %
        "started_at": now - timedelta(minutes=4),
    }
    job = JobView.of_row(row)
    fraction, eta = job_progress(job, now)
    assert round(fraction, 6) == 0.4 and eta is not None and round(eta) == 360
    assert job_progress(JobView.of_row({**row, "newest_order_at": None}), now) == (0.0, None)
    assert job_progress(JobView.of_row({**row, "status": "COMPLETED"}), now) == (1.0, 0.0)
    assert job_progress(JobView.of_row({**row, "status": "FAILED"}), now)[1] is None
