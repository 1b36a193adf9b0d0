"""How a backfill job is planned and resumed, from its row alone: no server.

The flows (pages stored, a process stopped mid-job and resumed by another) stay in
``test_backfill.py``, ``test_backfill_failures.py`` and ``test_backfill_report.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from keybuzz_orders.backfill.jobs import (
    MAX_DAYS,
    ORDERS_V0,
    REPORT,
    SEARCH,
    InvalidDays,
    JobStep,
    next_step,
    search_query,
    window_start,
)

NOW = datetime(2026, 11, 23, 9, 30, 15, tzinfo=UTC)


def job(**fields: Any) -> dict[str, Any]:
    """A job row as the store returns it, fresh from its start."""
    return {
        "strategy": None, "phase": None, "created_after": "2026-08-25T09:30:15Z",
        "tail_after": None, "pagination_token": None, "marketplace_id": "A13V1IB3VIYZZH",
        **fields,
    }  # fmt: skip


def test_a_90_day_job_starts_90_days_back_in_amazon_time() -> None:
    assert window_start(90, NOW) == "2026-08-25T09:30:15Z"
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert window_start(90, paris) == "2026-08-25T09:30:15Z"  # UTC whatever our zone


@pytest.mark.parametrize("days", [0, -1, MAX_DAYS + 1])
def test_a_window_outside_amazon_s_two_years_is_refused(days: int) -> None:
    with pytest.raises(InvalidDays, match="between 1 and 730"):
        window_start(days, NOW)


def test_the_first_page_asks_for_a_page_of_the_setting_s_size_from_the_window_start() -> None:
    sent = search_query(job(), page_size=100).params()
    assert sent["createdAfter"] == "2026-08-25T09:30:15Z"
    assert sent["maxResultsPerPage"] == "100"
    assert sent["marketplaceIds"] == "A13V1IB3VIYZZH"
    assert "paginationToken" not in sent
    assert "createdBefore" not in sent  # Amazon closes the window and says where


def test_a_job_resumed_after_a_crash_asks_for_the_page_after_its_checkpoint() -> None:
    resumed = job(strategy=SEARCH, pagination_token="tok+/=")
    sent = search_query(resumed, page_size=20).params()
    assert sent["paginationToken"] == "tok+/="
    assert sent["createdAfter"] == "2026-08-25T09:30:15Z"  # the same window, not a new one
    assert sent["maxResultsPerPage"] == "20"


def test_a_report_job_s_tail_reads_from_an_hour_before_its_reports_end() -> None:
    tail = job(strategy=REPORT, phase="TAIL", tail_after="2026-11-22T08:30:15Z")
    assert search_query(tail, page_size=100).created_after == "2026-11-22T08:30:15Z"


@pytest.mark.parametrize(
    ("fields", "step"),
    [
        ({}, JobStep.SEARCH_PAGE),  # the first page decides the strategy
        ({"strategy": SEARCH}, JobStep.SEARCH_PAGE),
        ({"strategy": REPORT, "phase": "REPORTS"}, JobStep.REPORTS),
        ({"strategy": REPORT, "phase": "TAIL"}, JobStep.SEARCH_PAGE),
        ({"strategy": ORDERS_V0}, JobStep.ORDERS_V0_PAGE),
        ({"strategy": ORDERS_V0, "pagination_token": "v0-next"}, JobStep.ORDERS_V0_PAGE),
    ],
)
def test_a_job_goes_on_as_its_checkpoint_says(fields: dict[str, Any], step: JobStep) -> None:
    assert next_step(job(**fields)) is step
