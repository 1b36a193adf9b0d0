"""Calls made a few at a time: a page's details read, a poll's messages marked read, never
a burst against a marketplace's rate limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def at_once(limit: int, items: Iterable[T], call: Callable[[T], Awaitable[R]]) -> list[R]:
    """``call`` on each item, at most ``limit`` in flight, the results in the items' order;
    the first failure cancels the calls left and is raised as it is."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await call(item)

    try:
        async with asyncio.TaskGroup() as calls:
            tasks = [calls.create_task(one(item)) for item in items]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]
