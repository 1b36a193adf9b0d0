"""The scheduler's own decisions, apart from its loop: its timings from the settings, and
what a failed poll records of itself (no server)."""

from __future__ import annotations

import pytest
from keybuzz_poller.polling.domain import failure_reason, poll_timings
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.errors import DependencyUnavailable


def settings(**values: float) -> PollerSettings:
    return PollerSettings(**values)  # type: ignore[arg-type]


def test_a_lease_never_outlives_the_interval_so_a_dead_instances_tenants_are_taken_in_one() -> None:
    assert poll_timings(settings(poll_interval_seconds=300, poll_lease_seconds=30)).lease == 30
    assert poll_timings(settings(poll_interval_seconds=1, poll_lease_seconds=30)).lease == 1


def test_a_failing_tenant_waits_at_most_the_cap_but_never_less_than_the_interval() -> None:
    long_interval = poll_timings(settings(poll_interval_seconds=900, poll_retry_max_seconds=600))
    assert long_interval.retry_cap == 900
    short = poll_timings(
        settings(poll_interval_seconds=300, poll_retry_max_seconds=600, poll_retry_base_seconds=5)
    )
    assert (short.retry_base, short.retry_cap) == (5, 600)


def test_the_scheduler_ticks_at_most_every_second_and_four_times_an_interval() -> None:
    assert poll_timings(settings(poll_interval_seconds=300)).tick == 1.0
    assert poll_timings(settings(poll_interval_seconds=2)).tick == 0.5


@pytest.mark.parametrize(
    "failure",
    [
        ValueError("Dear seller, my card 4970 1012 3456 7890 was charged twice"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "buyer text"),
        KeyError("order 403-1234567-1234567"),
    ],
)
def test_a_failed_poll_records_its_exceptions_type_never_its_text(failure: Exception) -> None:
    assert failure_reason(failure) == type(failure).__name__


def test_an_outage_records_its_own_message() -> None:
    outage = DependencyUnavailable("imap: connection refused")
    assert failure_reason(outage) == "imap: connection refused"
