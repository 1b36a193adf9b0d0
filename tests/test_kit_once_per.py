"""The kit's calls a marketplace allows once per so many seconds (connectors/mirakl/src/keybuzz_connector_mirakl/call_spacing.py), on a
clock the test moves: ``Spaced`` sends the next call an interval after the last one
ended, never after it started, one at a time; ``KeptFor`` answers from the last answer
until it runs out, one fetch at a time, and keeps nothing of a failed one."""

from __future__ import annotations

import asyncio

import pytest
from keybuzz_connector_mirakl.call_spacing import KeptFor, Spaced


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


async def test_kept_for_answers_from_the_last_answer_until_it_runs_out() -> None:
    clock = Clock()
    answers = iter([RuntimeError("down"), "first", "second"])
    fetched = 0

    async def fetch() -> str:
        nonlocal fetched
        fetched += 1
        await asyncio.sleep(0)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    kept = KeptFor(86_400.0, fetch, monotonic=clock)
    with pytest.raises(RuntimeError):
        await kept.get()  # a failure keeps nothing
    assert await asyncio.gather(kept.get(), kept.get()) == ["first", "first"]
    assert fetched == 2  # the two callers shared one fetch
    clock.now += 86_399.0
    assert await kept.get() == "first"
    clock.now += 1.0
    assert await kept.get() == "second" and fetched == 3
