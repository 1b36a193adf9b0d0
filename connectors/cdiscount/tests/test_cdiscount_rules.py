"""Cdiscount's rules the connector keeps, checked without a server: a reply to ALL goes only
where the discussion offers both the customer and Octopia's customer care."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from keybuzz_connector_cdiscount.discussions import Discussion, User, receivers


def discussion(*eligible: str) -> Discussion:
    return Discussion(
        discussion_id="7001",
        updated_at=datetime(2026, 11, 25, tzinfo=UTC),
        eligible_receivers=[User(user_type=kind, user_id=n) for n, kind in enumerate(eligible)],
    )


@pytest.mark.parametrize("eligible", [("Customer",), ("GrcOperator",), ()])
def test_a_reply_to_all_needs_both_the_customer_and_the_operator_eligible(
    eligible: tuple[str, ...],
) -> None:
    refused = receivers(discussion(*eligible), "ALL")
    assert isinstance(refused, str) and "ALL" in refused


def test_a_reply_to_all_goes_to_both_when_both_are_eligible() -> None:
    chosen = receivers(discussion("Customer", "GrcOperator", "Seller"), "ALL")
    assert not isinstance(chosen, str)
    assert sorted(u.user_type for u in chosen) == ["Customer", "GrcOperator"]
