"""The kit's response figure over named periods (kit/declaration.py, ``KitSession.PeriodFigures``), without a server:
a window gets the shortest period holding its start, over that period up to when the
marketplace computed it; every window from one call while it is kept; a period the answer
lacks gives no figure; a failed call keeps nothing. Beside it, a marketplace's own hours
to answer as its rule (kit/declaration.py, ``OwnRule.hours``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_shared.connectors.kit.declaration import Computed, KitSession, OwnRule

PeriodFigures = KitSession.PeriodFigures

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
COMPUTED = NOW - timedelta(hours=3)
PERIODS = (("MONTH", timedelta(days=30)), ("YEAR", timedelta(days=365)), ("EVER", None))


class Answers:
    """The marketplace's one call: its answers in turn, an exception raised."""

    def __init__(self, *answers: Computed | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> Computed:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def figures(answers: Answers) -> PeriodFigures:
    return PeriodFigures(
        "delay", PERIODS, answers, kept_seconds=3600, slack=timedelta(minutes=1), now=lambda: NOW
    )


async def test_each_window_gets_the_shortest_period_holding_its_start_from_one_call() -> None:
    answers = Answers(({"MONTH": 3600, "YEAR": 7200, "EVER": 9000}, COMPUTED))
    kept = figures(answers)
    month = await kept.figure(NOW - timedelta(days=30), NOW)  # a month: the month, by the slack
    year = await kept.figure(NOW - timedelta(days=90), NOW)
    ever = await kept.for_window(NOW - timedelta(days=400), NOW)
    assert month is not None and month.name == "delay (MONTH)"
    assert month.average_response_seconds == 3600
    assert (month.since, month.until, month.computed_at) == (
        COMPUTED - timedelta(days=30),
        COMPUTED,
        COMPUTED,
    )
    assert (
        year is not None and year.name == "delay (YEAR)" and year.average_response_seconds == 7200
    )
    assert ever is not None and ever.since is None and ever.name == "delay (EVER)"
    assert answers.calls == 1


async def test_a_period_without_a_figure_gives_none_and_an_unsaid_computation_is_the_call() -> None:
    kept = figures(Answers(({"YEAR": 60}, None)))
    assert await kept.for_window(NOW - timedelta(days=7), NOW) is None
    year = await kept.for_window(NOW - timedelta(days=100), NOW)
    assert year is not None and year.until == NOW


async def test_a_failed_call_keeps_nothing() -> None:
    answers = Answers(RuntimeError("down"), ({"MONTH": 10}, COMPUTED))
    kept = figures(answers)
    with pytest.raises(RuntimeError, match="down"):
        await kept.for_window(NOW - timedelta(days=7), NOW)
    again = await kept.for_window(NOW - timedelta(days=7), NOW)
    assert again is not None and again.average_response_seconds == 10 and answers.calls == 2


def test_a_marketplaces_own_hours_run_on_its_clock_and_a_tenant_may_shorten_them() -> None:
    window = OwnRule.hours(36, "marked at the marketplace only")
    assert window.rule.window == timedelta(hours=36)
    assert window.rule.marketplace_clock and window.rule.tenant_may_shorten
    assert window.mark(None, None).note == "marked at the marketplace only"
