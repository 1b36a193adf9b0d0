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
    JobView,
    next_step,
    search_window,
    window_start,
)
from orders_fakes import job_view

NOW = datetime(2026, 11, 23, 9, 30, 15, tzinfo=UTC)


START = datetime(2026, 8, 25, 9, 30, 15, tzinfo=UTC)


def job(**fields: Any) -> JobView:
    return job_view(**fields)


def test_a_90_day_job_starts_90_days_back_in_amazon_time() -> None:
    assert window_start(90, NOW) == "2026-08-25T09:30:15Z"
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert window_start(90, paris) == "2026-08-25T09:30:15Z"  # UTC whatever our zone


@pytest.mark.parametrize("days", [0, -1, MAX_DAYS + 1])
def test_a_window_outside_amazon_s_two_years_is_refused(days: int) -> None:
    with pytest.raises(InvalidDays, match="between 1 and 730"):
        window_start(days, NOW)


def test_the_first_page_asks_for_a_page_of_the_setting_s_size_from_the_window_start() -> None:
    window = search_window(job(), page_size=100)
    assert window.created_after == START
    assert window.page_size == 100
    assert window.marketplace_id == "A13V1IB3VIYZZH"
    assert window.page_token is None and window.updated_after is None
    assert window.created_before is None  # the source closes the window and says where


def test_a_job_resumed_after_a_crash_asks_for_the_page_after_its_checkpoint() -> None:
    resumed = job(strategy=SEARCH, pagination_token="tok+/=")
    window = search_window(resumed, page_size=20)
    assert window.page_token == "tok+/="
    assert window.created_after == START  # the same window, not a new one
    assert window.page_size == 20


def test_a_report_job_s_tail_reads_from_an_hour_before_its_reports_end() -> None:
    tail = job(strategy=REPORT, phase="TAIL", tail_after="2026-11-22T08:30:15Z")
    assert search_window(tail, page_size=100).created_after == datetime(
        2026, 11, 22, 8, 30, 15, tzinfo=UTC
    )


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
