"""Calls a marketplace allows once per so many seconds, on one shop's client: ``Spaced``
sends them no closer together, ``KeptFor`` answers from the last answer until it is due
again. One such call at a time: callers queue behind the one in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
Clock = Callable[[], float]


class Spaced:
    """Calls sent ``interval`` seconds apart, counted from the end of the last one, not
    its start: a call that left late, or was sent again after a 429's Retry-After, reached
    the marketplace then, and the next one counted from its start would meet a 429 in
    turn."""

    def __init__(
        self,
        interval: float,
        *,
        monotonic: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._one = asyncio.Lock()
        self._ended: float | None = None  # when the last call ended (monotonic)

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._one:
            if self._ended is not None:
                left = self.interval - (self._monotonic() - self._ended)
                if left > 0:
                    await self._sleep(left)
            try:
                return await call()
            finally:
                self._ended = self._monotonic()


class KeptFor(Generic[T]):
    """What ``fetch`` answered, kept ``seconds`` and asked again once they ran out; a
    failed fetch keeps nothing and is raised to its caller."""

    def __init__(
        self,
        seconds: float,
        fetch: Callable[[], Awaitable[T]],
        *,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self._fetch = fetch
        self._monotonic = monotonic
        self._one = asyncio.Lock()
        self._kept: tuple[T, float] | None = None  # the answer and when it runs out

    async def get(self) -> T:
        async with self._one:
            if self._kept is not None and self._kept[1] > self._monotonic():
                return self._kept[0]
            answer = await self._fetch()
            self._kept = (answer, self._monotonic() + self.seconds)
            return answer
