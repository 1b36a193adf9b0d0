"""Pure decisions: an order's reference, SLA, what a failed page means for its job. Amazon's
order → our row is its connector's, tested in connectors/amazon/tests/test_amazon_order_rows.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_connector_amazon import (
    AmazonAuthError,
    CredentialsMissing,
    LwaUnavailable,
    ReauthRequired,
    SpApiAccessDenied,
    SpApiError,
    SpApiInvalidInput,
    SpApiUnavailable,
)
from keybuzz_connector_amazon.order_feed import source_error
from keybuzz_orders.backfill.backfill import Decision, decide
from keybuzz_orders.domain import (
    OrderStatus,
    SlaStatus,
    order_ref,
    sla_status,
)

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_order_ref_is_the_last_six_digits() -> None:
    assert order_ref("407-8949262-6149120") == "#149120"  # seed 003


@pytest.mark.parametrize(
    ("status", "ship_by", "expected"),
    [
        (OrderStatus.CONFIRMED, NOW + timedelta(days=2), SlaStatus.OK),
        (OrderStatus.CONFIRMED, NOW + timedelta(hours=3), SlaStatus.AT_RISK),
        (OrderStatus.PENDING, NOW - timedelta(minutes=1), SlaStatus.BREACHED),
        (OrderStatus.SHIPPED, NOW - timedelta(days=1), SlaStatus.OK),
        (OrderStatus.CONFIRMED, None, SlaStatus.OK),
    ],
)
def test_sla(status: OrderStatus, ship_by: datetime | None, expected: SlaStatus) -> None:
    assert sla_status(status, ship_by, NOW) is expected


@pytest.mark.parametrize(
    ("error", "resuming", "decision"),
    [
        (SpApiUnavailable("searchOrders", 503, "x", "y"), False, Decision.WAIT),
        (LwaUnavailable("LWA down"), False, Decision.WAIT),
        (ConnectionRefusedError(), False, Decision.WAIT),
        (
            SpApiInvalidInput("searchOrders", 400, "InvalidInput", "token"),
            True,
            Decision.RESTART_WINDOW,
        ),
        (SpApiInvalidInput("searchOrders", 400, "InvalidInput", "bad"), False, Decision.FAIL),
        (ReauthRequired("t-1", "S", "invalid_grant"), True, Decision.FAIL),
        (CredentialsMissing("t-1", "secret/x"), False, Decision.FAIL),
        (SpApiAccessDenied("searchOrders", 403, "Unauthorized", "no"), False, Decision.FAIL),
        (KeyError("bug"), False, Decision.FAIL),
    ],
)
def test_what_a_failed_page_means(error: Exception, resuming: bool, decision: Decision) -> None:
    # Amazon's failures reach the job as the order source's (order_feed.source_error).
    failure = source_error(error) if isinstance(error, AmazonAuthError | SpApiError) else error
    assert decide(failure, resuming=resuming) is decision
