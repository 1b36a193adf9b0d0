"""plan_strategy, pure: SEARCH or REPORT from a job's first searchOrders page (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
from keybuzz_orders.backfill.jobs import ReportWindow, WindowState
from keybuzz_orders.backfill.report_strategy import REPORT, SEARCH, plan_strategy
from keybuzz_orders.domain import OrderRow, OrderStatus
from keybuzz_orders.order_source import SourcePage
from keybuzz_orders.settings import OrdersSettings

START = datetime(2026, 8, 24, tzinfo=UTC)  # the window's start: 90 days before END
END = datetime(2026, 11, 22, tzinfo=UTC)  # Amazon's createdBefore
CREATED_AFTER = "2026-08-24T00:00:00Z"
SETTINGS = msgspec.structs.replace(
    OrdersSettings(),
    backfill_report_threshold=2000,
    backfill_report_window_days=30,
    backfill_report_tail_hours=24.0,
)


def _rows(count: int, first: datetime, every: timedelta) -> list[OrderRow]:
    return [
        OrderRow(
            external_order_id=f"407-0000000-{n:07d}",
            order_ref=f"#{n:06d}",
            marketplace_id=None,
            customer_name=None,
            customer_email=None,
            order_date=first + n * every,
            marketplace_updated_at=first + n * every,
            currency=None,
            total_amount=None,
            order_status=OrderStatus.SHIPPED,
            marketplace_status="SHIPPED",
            fulfillment_channel=None,
            delivery_status=None,
            ship_by=None,
            carrier=None,
            tracking_code=None,
            shipping_address=None,
            shipped_at=None,
            delivered_at=None,
            items=[],
        )
        for n in range(count)
    ]


def _page(next_token: str | None, created_before: datetime | None = END) -> SourcePage:
    return SourcePage(orders=[], next_token=next_token, created_before=created_before)


def test_a_window_read_in_one_page_stays_with_search() -> None:
    rows = _rows(100, START, timedelta(hours=1))
    plan = plan_strategy(SETTINGS, CREATED_AFTER, _page(None), rows)
    assert plan.strategy == SEARCH and plan.windows is None and plan.tail_after is None
    assert "100 orders: one page" in plan.reason


def test_a_sparse_window_stays_with_search() -> None:
    # 100 orders over the first 9 days of 90: ~1,000 in the window, under 2,000.
    rows = _rows(100, START, timedelta(days=9) / 99)
    plan = plan_strategy(SETTINGS, CREATED_AFTER, _page("next"), rows)
    assert plan.strategy == SEARCH and plan.windows is None
    assert plan.reason.startswith("estimated ~1000 orders ≤ 2000")


def test_a_dense_window_goes_through_reports_then_the_tail() -> None:
    # 100 orders in the first 99 hours of 90 days: ~2,180 in the window, over 2,000.
    rows = _rows(100, START, timedelta(hours=1))
    plan = plan_strategy(SETTINGS, CREATED_AFTER, _page("next"), rows)
    assert plan.strategy == REPORT
    assert plan.reason.startswith("estimated ~2182 orders > 2000: 3 order reports")
    # 89 days up to 24 h before createdBefore, 30 days at a time, back to back.
    assert plan.windows == [
        ReportWindow(start="2026-08-24T00:00:00Z", end="2026-09-23T00:00:00Z"),
        ReportWindow(start="2026-09-23T00:00:00Z", end="2026-10-23T00:00:00Z"),
        ReportWindow(start="2026-10-23T00:00:00Z", end="2026-11-21T00:00:00Z"),
    ]
    assert all(w.state is WindowState.PENDING and w.report_id is None for w in plan.windows)
    # The tail starts one hour before the reports end (reports trail order creation).
    assert plan.tail_after == "2026-11-20T23:00:00Z"


def test_orders_all_at_the_window_start_predict_many() -> None:
    rows = _rows(100, START, timedelta(0))
    plan = plan_strategy(SETTINGS, CREATED_AFTER, _page("next"), rows)
    assert plan.strategy == REPORT and plan.reason.startswith("estimated many orders > 2000")


def test_a_dense_window_whose_reports_would_cover_nothing_new_stays_with_search() -> None:
    # A 25-hour window, 100 orders in its first 66 minutes (~2,270 predicted): the first
    # page already reaches into the last 24 hours, the tail is all that is left.
    start = END - timedelta(hours=25)
    rows = _rows(100, start, timedelta(seconds=40))
    plan = plan_strategy(SETTINGS, "2026-11-20T23:00:00Z", _page("next"), rows)
    assert plan.strategy == SEARCH and plan.windows is None
    assert plan.reason.endswith("orders, all within the tail")


def test_the_threshold_and_the_tail_are_settings() -> None:
    rows = _rows(100, START, timedelta(days=9) / 99)  # ~1,000 orders
    lower = msgspec.structs.replace(
        SETTINGS, backfill_report_threshold=999, backfill_report_tail_hours=48.0
    )
    plan = plan_strategy(lower, CREATED_AFTER, _page("next"), rows)
    assert plan.strategy == REPORT and plan.windows is not None
    assert plan.windows[-1].end == "2026-11-20T00:00:00Z"
    assert plan.reason.endswith("then searchOrders for the last 48 h")


def test_amazon_times_of_the_plan_are_utc_whatever_the_offset_amazon_used() -> None:
    paris = timezone(timedelta(hours=1))
    rows = _rows(100, START, timedelta(hours=1))
    plan = plan_strategy(SETTINGS, CREATED_AFTER, _page("next", END.astimezone(paris)), rows)
    assert plan.tail_after == "2026-11-20T23:00:00Z"
    assert plan.windows is not None and plan.windows[-1].end == "2026-11-21T00:00:00Z"


def test_without_amazon_s_cursor_the_newest_order_closes_the_window() -> None:
    rows = _rows(100, START, timedelta(hours=1))  # the newest: 99 h after the start
    plan = plan_strategy(SETTINGS, CREATED_AFTER, _page("next", created_before=None), rows)
    # The window ends with the page: everything is within it, nothing to extrapolate.
    assert plan.strategy == SEARCH and plan.reason.startswith("estimated ~100 orders")
