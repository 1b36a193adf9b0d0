"""The kit's calls a marketplace allows once per so many seconds, on a clock the test
moves: ``Spaced`` (kit/orders.py, ``ListedOrders.spacing``) sends the next call an
interval after the last one ended, never after it started, one at a time; a figure over
named periods (kit/declaration.py, ``KitSession.PeriodFigures``) answers from the last
answer until it runs out, one fetch at a time, and keeps nothing of a failed one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from keybuzz_shared.connectors.kit.declaration import KitSession
from keybuzz_shared.connectors.kit.orders import Spaced


class Clock:
    """A monotonic clock that moves only when the code sleeps or a call takes time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_spaced_calls_leave_an_interval_after_the_last_one_ended() -> None:
    clock = Clock()
    spaced = Spaced(60.0, monotonic=clock, sleep=clock.sleep)
    sent: list[float] = []

    async def call(takes: float) -> float:
        sent.append(clock.now)
        clock.now += takes  # the call's own time (a Retry-After waited within it)
        return clock.now

    assert await spaced(lambda: call(15.0)) == 115.0  # the first leaves at once
    assert await spaced(lambda: call(0.0)) == 175.0  # 60 s after the first *ended*
    assert clock.slept == [60.0] and sent == [100.0, 175.0]
    clock.now += 100.0  # long enough: no wait
    await spaced(lambda: call(0.0))
    assert clock.slept == [60.0]

    async def fails() -> float:
        clock.now += 5.0
        raise RuntimeError("refused")

    clock.now += 100.0
    with pytest.raises(RuntimeError):
        await spaced(fails)
    assert clock.slept == [60.0]
    await spaced(lambda: call(0.0))  # a failed call counts from its end too
    assert clock.slept == [60.0, 60.0]


async def test_spaced_callers_queue_one_at_a_time() -> None:
    clock = Clock()
    spaced = Spaced(10.0, monotonic=clock, sleep=clock.sleep)
    order: list[str] = []

    async def call(name: str) -> str:
        order.append(f"{name} in")
        await asyncio.sleep(0)  # another caller gets its turn to try
        order.append(f"{name} out")
        return name

    assert await asyncio.gather(*(spaced(lambda n=n: call(n)) for n in "abc")) == list("abc")
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert clock.slept == [10.0, 10.0]


async def test_a_figure_is_kept_from_the_last_answer_until_it_runs_out() -> None:
    clock = Clock()
    answers = iter([RuntimeError("down"), 60.0, 120.0])
    fetched = 0
    now = datetime(2026, 11, 26, tzinfo=UTC)

    async def fetch() -> tuple[dict[str, float], datetime | None]:
        nonlocal fetched
        fetched += 1
        await asyncio.sleep(0)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return {"EVER": answer}, now

    kept = KitSession.PeriodFigures(
        "delay", (("EVER", None),), fetch, kept_seconds=86_400.0, monotonic=clock
    )

    async def seconds() -> float | None:
        figure = await kept.for_window(now, now)
        return None if figure is None else figure.average_response_seconds

    with pytest.raises(RuntimeError):
        await seconds()  # a failure keeps nothing
    assert await asyncio.gather(seconds(), seconds()) == [60.0, 60.0]
    assert fetched == 2  # the two callers shared one fetch
    clock.now += 86_399.0
    assert await seconds() == 60.0
    clock.now += 1.0
    assert await seconds() == 120.0 and fetched == 3
